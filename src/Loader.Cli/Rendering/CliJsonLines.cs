using System.Text.Json;
using System.Text.Json.Serialization;
using Loader.Cli.Commands;

namespace Loader.Cli.Rendering;

/// <summary>
/// JSON Lines for commands that report as they go (<c>loader try --json</c>): one compact object per line, the same
/// naming as <see cref="CliJsonContext"/>, generated at compile time.
/// </summary>
[JsonSourceGenerationOptions(
    WriteIndented = false,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(TryResult))]
[JsonSerializable(typeof(ShareChildReport))]
internal sealed partial class CliJsonLines : JsonSerializerContext
{
    /// <summary>Writes one line.</summary>
    public static void Write(TextWriter writer, TryResult value) =>
        writer.WriteLine(JsonSerializer.Serialize(value, Default.TryResult));
}
