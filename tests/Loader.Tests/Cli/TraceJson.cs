using System.Text.Json;

namespace Loader.Tests.Cli;

/// <summary>Reads what <c>loader trace --json</c> prints.</summary>
internal static class TraceJson
{
    /// <summary>One entry of "steps".</summary>
    public sealed record Step(int Index, string Phase, string Kind, string? SystemCall, ulong Address, ulong Length,
        string Protection, string Flags, ulong? FileOffset, bool OnDispose);

    /// <summary>The base address, the reservation and the steps of <c>loader trace --json</c>'s output.</summary>
    public static (ulong Bias, ulong ReservedStart, ulong Size, List<Step> Steps) Parse(string stdout)
    {
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        var steps = root.GetProperty("steps").EnumerateArray().Select(s => new Step(
            s.GetProperty("index").GetInt32(), s.GetProperty("phase").GetString()!, s.GetProperty("kind").GetString()!,
            s.GetProperty("systemCall").GetString(), s.GetProperty("address").GetUInt64(), s.GetProperty("length").GetUInt64(),
            s.GetProperty("protection").GetString()!, s.GetProperty("flags").GetString()!,
            s.GetProperty("fileOffset").ValueKind == JsonValueKind.Number ? s.GetProperty("fileOffset").GetUInt64() : null,
            s.GetProperty("onDispose").GetBoolean())).ToList();
        return (root.GetProperty("baseAddress").GetUInt64(), root.GetProperty("reservedStart").GetUInt64(),
            root.GetProperty("reservedSize").GetUInt64(), steps);
    }
}
