using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Loader.Cli.Commands;

namespace Loader.Cli.Rendering;

/// <summary>
/// The JSON every <c>--json</c> writes, generated at compile time (no reflection, so the tool stays NativeAOT- and
/// trim-safe). Properties are camelCase; absent values are written as null rather than left out, so every object of
/// a kind has the same fields. Numbers (addresses, sizes) are JSON numbers.
/// </summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(InfoReport))]
[JsonSerializable(typeof(HeaderReport))]
[JsonSerializable(typeof(SegmentsReport))]
[JsonSerializable(typeof(SectionsReport))]
[JsonSerializable(typeof(DynamicReport))]
[JsonSerializable(typeof(SymbolsReport))]
[JsonSerializable(typeof(RelocsReport))]
[JsonSerializable(typeof(LayoutReport))]
[JsonSerializable(typeof(TraceReport))]
[JsonSerializable(typeof(DepsReport))]
[JsonSerializable(typeof(BindReport))]
[JsonSerializable(typeof(BindAllReport))]
[JsonSerializable(typeof(DemoReport))]
[JsonSerializable(typeof(ShareReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
    /// <summary>Writes <paramref name="value"/> as indented JSON followed by a newline.</summary>
    public static void Write<T>(TextWriter writer, T value, JsonTypeInfo<T> typeInfo)
    {
        writer.WriteLine(JsonSerializer.Serialize(value, typeInfo));
    }
}
