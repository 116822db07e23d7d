using System.Text.Json;
using System.Text.RegularExpressions;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>headers, segments, sections, dynamic, relocs: real content, checked against readelf where it is simple to.</summary>
public sealed class ViewCommandsTests
{
    [Theory]
    [InlineData("info")]
    [InlineData("headers")]
    [InlineData("segments")]
    [InlineData("sections")]
    [InlineData("dynamic")]
    [InlineData("symbols")]
    [InlineData("relocs")]
    public void Every_command_writes_one_json_document_for_libc(string command)
    {
        var result = CliHarness.Run(command, CliHarness.LibC, "--json");

        CliHarness.AssertSuccess(result);
        Assert.Equal("", result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(CliHarness.LibC, json.RootElement.GetProperty("file").GetString());
    }

    [Fact]
    public void Headers_match_readelf_h()
    {
        string readelf = Readelf.Output("-h", CliHarness.LibZ);
        var result = CliHarness.Run("headers", CliHarness.LibZ);

        CliHarness.AssertSuccess(result);
        foreach (var field in new[] { "Class", "Data", "OS/ABI", "Type", "Machine", "Entry point address", "Start of section headers",
                     "Number of program headers", "Number of section headers", "Section header string table index" })
        {
            string expected = Regex.Match(readelf, $@"(?m)^\s*{Regex.Escape(field)}:\s+(.*?)\s*$").Groups[1].Value;
            Assert.NotEmpty(expected);
            Assert.Matches($@"(?m)^\s*{Regex.Escape(field)}:\s+{Regex.Escape(expected)}$", result.Stdout);
        }
        string magic = Regex.Match(readelf, @"Magic:\s+(.*?)\s*$", RegexOptions.Multiline).Groups[1].Value;
        Assert.Contains(magic, result.Stdout);
    }

    [Fact]
    public void Segments_match_readelf_l_types_and_flags()
    {
        var expected = Regex.Matches(Readelf.Output("-l", "-W", CliHarness.LibC),
                @"(?m)^\s+([A-Z_]+)\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x[0-9a-f]+ 0x([0-9a-f]+) 0x([0-9a-f]+) (.{3}) 0x([0-9a-f]+)$")
            .Select(m => (Type: m.Groups[1].Value, Offset: Convert.ToUInt64(m.Groups[2].Value, 16), Address: Convert.ToUInt64(m.Groups[3].Value, 16),
                FileSize: Convert.ToUInt64(m.Groups[4].Value, 16), MemSize: Convert.ToUInt64(m.Groups[5].Value, 16),
                Flags: m.Groups[6].Value.TrimEnd(), Align: Convert.ToUInt64(m.Groups[7].Value, 16)))
            .ToList();
        Assert.NotEmpty(expected);

        using var json = JsonDocument.Parse(CliHarness.Run("segments", CliHarness.LibC, "--json").Stdout);
        var actual = json.RootElement.GetProperty("segments").EnumerateArray()
            .Select(s => (Type: s.GetProperty("type").GetString()!, Offset: s.GetProperty("offset").GetUInt64(), Address: s.GetProperty("virtualAddress").GetUInt64(),
                FileSize: s.GetProperty("fileSize").GetUInt64(), MemSize: s.GetProperty("memorySize").GetUInt64(),
                Flags: s.GetProperty("flags").GetString()!, Align: s.GetProperty("alignment").GetUInt64()))
            .ToList();
        Assert.Equal(expected, actual);

        var text = CliHarness.Run("segments", CliHarness.LibC).Stdout;
        Assert.Matches(@"(?m)^\s+LOAD\s.*\sR E\s+0x1000$", text);
        Assert.Contains("[Requesting program interpreter: /lib64/ld-linux-x86-64.so.2]", text);
    }

    [Fact]
    public void Sections_match_readelf_S_names_and_types()
    {
        var expected = Regex.Matches(Readelf.Output("-S", "-W", CliHarness.LibZ), @"(?m)^\s+\[\s*(\d+)\]\s+(\S*)\s+(\S+)\s+([0-9a-f]{16})\s")
            .Select(m => (Index: int.Parse(m.Groups[1].Value), Name: m.Groups[2].Value, Type: m.Groups[3].Value, Address: Convert.ToUInt64(m.Groups[4].Value, 16)))
            .Where(s => s.Index != 0)
            .ToList();
        Assert.NotEmpty(expected);

        using var json = JsonDocument.Parse(CliHarness.Run("sections", CliHarness.LibZ, "--json").Stdout);
        var actual = json.RootElement.GetProperty("sections").EnumerateArray()
            .Select(s => (Index: s.GetProperty("index").GetInt32(), Name: s.GetProperty("name").GetString()!, Type: s.GetProperty("type").GetString()!,
                Address: s.GetProperty("address").GetUInt64()))
            .Where(s => s.Index != 0)
            .ToList();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Dynamic_spells_tags_and_values_as_readelf_d_does()
    {
        var expected = Regex.Matches(Readelf.Output("-d", CliHarness.LibC), @"(?m)^\s*0x([0-9a-f]{16}) \(([A-Z_0-9]+)\)\s+(.*?)\s*$")
            .Select(m => (Tag: m.Groups[2].Value, Display: m.Groups[3].Value))
            .ToList();
        Assert.Contains(expected, e => e.Tag == "FLAGS");

        using var json = JsonDocument.Parse(CliHarness.Run("dynamic", CliHarness.LibC, "--json").Stdout);
        var actual = json.RootElement.GetProperty("entries").EnumerateArray()
            .Select(e => (Tag: e.GetProperty("tag").GetString()!, Display: e.GetProperty("display").GetString()!))
            .ToList();
        Assert.Equal(expected, actual);
        var needed = Assert.Single(json.RootElement.GetProperty("entries").EnumerateArray(), e => e.GetProperty("tag").GetString() == "NEEDED");
        Assert.Equal("ld-linux-x86-64.so.2", needed.GetProperty("string").GetString());
    }

    [Fact]
    public void Relocs_match_readelf_r_entry_by_entry()
    {
        // "000000000001e000  0000001b00000007 R_X86_64_JUMP_SLOT     0000000000003cd0 crc32_z@@ZLIB_1.2.9 + 0"
        var expected = Regex.Matches(Readelf.Output("-r", "-W", CliHarness.LibZ),
                @"(?m)^([0-9a-f]{16})\s+([0-9a-f]{16})\s+(R_X86_64_\w+)\s+(?:([0-9a-f]{16})\s+(\S+)\s+\+\s+([0-9a-f]+)|([0-9a-f]+))\s*$")
            .Select(m => (Offset: Convert.ToUInt64(m.Groups[1].Value, 16), Type: m.Groups[3].Value,
                Symbol: m.Groups[5].Success ? m.Groups[5].Value : "",
                Addend: Convert.ToInt64(m.Groups[6].Success ? m.Groups[6].Value : m.Groups[7].Value, 16)))
            .ToList();
        Assert.NotEmpty(expected);

        using var json = JsonDocument.Parse(CliHarness.Run("relocs", CliHarness.LibZ, "--json").Stdout);
        var actual = json.RootElement.GetProperty("tables").EnumerateArray()
            .SelectMany(t => t.GetProperty("relocations").EnumerateArray())
            .Select(r =>
            {
                string? name = r.GetProperty("symbolName").GetString();
                string? version = r.GetProperty("symbolVersion").GetString();
                string symbol = name is null ? "" : r.GetProperty("symbolVersionKind").GetString() switch
                {
                    "default" => $"{name}@@{version}",
                    "hidden" or "needed" => $"{name}@{version}",
                    _ => name,
                };
                return (Offset: r.GetProperty("offset").GetUInt64(), Type: r.GetProperty("typeName").GetString()!, Symbol: symbol,
                    Addend: r.GetProperty("addend").GetInt64());
            })
            .ToList();
        Assert.Equal(expected, actual);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("relr").ValueKind);
    }

    [Fact]
    public void Relocs_of_libc_decode_the_relr_addresses()
    {
        var readelf = Readelf.Output("-r", "-W", CliHarness.LibC);
        var relrSection = Regex.Match(readelf, @"'\.relr\.dyn' at offset 0x[0-9a-f]+ contains (\d+) entr");
        Assert.True(relrSection.Success, "readelf shows no .relr.dyn in libc: Debian 12's libc is linked with -z pack-relative-relocs, this one is not");

        using var json = JsonDocument.Parse(CliHarness.Run("relocs", CliHarness.LibC, "--json").Stdout);
        var relr = json.RootElement.GetProperty("relr");
        Assert.Equal(int.Parse(relrSection.Groups[1].Value), relr.GetProperty("entryCount").GetInt32());
        var addresses = relr.GetProperty("addresses").EnumerateArray().Select(a => a.GetUInt64()).ToList();
        Assert.True(addresses.Count >= relr.GetProperty("entryCount").GetInt32());
        Assert.Equal(addresses.Order(), addresses);
        Assert.All(addresses, a => Assert.Equal(0UL, a % 8));

        var text = CliHarness.Run("relocs", CliHarness.LibC).Stdout;
        Assert.Contains($"packs {addresses.Count} relative relocations", text);
        Assert.Contains(addresses[0].ToString("x16"), text);
    }
}
