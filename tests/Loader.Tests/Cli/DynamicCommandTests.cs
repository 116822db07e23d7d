using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>
/// <c>loader dynamic</c> says where the section is as readelf -d does ("at offset", a file offset), and which of its
/// values are addresses, sizes in bytes or counts, as readelf -d prints them.
/// </summary>
public sealed class DynamicCommandTests
{
    [Theory]
    [InlineData(CliHarness.LibZ)]
    [InlineData(CliHarness.LibC)]
    public void The_heading_gives_the_file_offset_readelf_gives_and_the_address(string library)
    {
        var readelf = Regex.Match(Readelf.Output("-d", library), @"Dynamic section at offset (0x[0-9a-f]+) contains (\d+) entries:");
        Assert.True(readelf.Success);
        var dynamicSection = Regex.Match(Readelf.Output("-S", "-W", library), @"\.dynamic\s+DYNAMIC\s+([0-9a-f]{16})");
        Assert.True(dynamicSection.Success);
        ulong address = ulong.Parse(dynamicSection.Groups[1].Value, NumberStyles.HexNumber);

        var result = CliHarness.Run("dynamic", library);

        CliHarness.AssertSuccess(result);
        Assert.Equal($"Dynamic section at offset {readelf.Groups[1].Value} (address 0x{address:x}) contains {readelf.Groups[2].Value} entries:",
            result.Stdout.Split('\n')[0]);
    }

    [Fact]
    public void Json_says_what_each_value_is_the_way_readelf_prints_it()
    {
        // readelf -d: "N (bytes)" for a size, a bare hex number for an address, a bare decimal for a count.
        var printed = Regex.Matches(Readelf.Output("-d", CliHarness.LibZ), @"(?m)^\s*0x[0-9a-f]{16} \(([A-Z_0-9]+)\)\s+(.*?)\s*$")
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);

        var result = CliHarness.Run("dynamic", CliHarness.LibZ, "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(Convert.ToUInt64(Regex.Match(Readelf.Output("-d", CliHarness.LibZ), "at offset 0x([0-9a-f]+)").Groups[1].Value, 16),
            json.RootElement.GetProperty("offset").GetUInt64());
        var kinds = json.RootElement.GetProperty("entries").EnumerateArray()
            .ToDictionary(e => e.GetProperty("tag").GetString()!, e => e.GetProperty("valueKind").GetString()!);
        Assert.Equal(printed.Keys.Order(), kinds.Keys.Order());
        foreach (var (tag, text) in printed)
        {
            string expected = text.EndsWith(" (bytes)", StringComparison.Ordinal) ? "bytes"
                : tag == "NULL" ? "none"
                : text.StartsWith("0x", StringComparison.Ordinal) ? "address"
                : Regex.IsMatch(text, @"^\d+$") ? "count"
                : text.Contains(": [", StringComparison.Ordinal) ? "string"
                : kinds[tag]; // FLAGS, FLAGS_1, PLTREL: spelled out by name
            Assert.True(expected == kinds[tag], $"{tag} '{text}': readelf's notion is {expected}, ours {kinds[tag]}");
        }
        Assert.Equal("tag", kinds["PLTREL"]);
    }
}
