using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

public sealed partial class SymbolsCommandTests
{
    /// <summary>One row of <c>readelf --dyn-syms -W</c>: just the columns the test compares.</summary>
    private sealed record ReadElfSymbol(int Index, ulong Value, ulong Size, string Type, string Bind, string Vis, string Ndx, string Name);

    // "    14: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND memcpy@GLIBC_2.14 (19)"
    [GeneratedRegex(@"^\s*(\d+):\s+([0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s?(.*)$")]
    private static partial Regex ReadElfSymbolLine();

    // readelf appends the DT_VERNEED index to a needed version: "free@GLIBC_2.2.5 (17)".
    [GeneratedRegex(@" \(\d+\)$")]
    private static partial Regex NeededVersionIndex();

    private static List<ReadElfSymbol> ReadElfDynamicSymbols(string path)
    {
        var symbols = new List<ReadElfSymbol>();
        foreach (var line in Readelf.Output("--dyn-syms", "-W", path).Split('\n'))
        {
            var m = ReadElfSymbolLine().Match(line);
            if (!m.Success)
                continue;
            string size = m.Groups[3].Value;
            symbols.Add(new ReadElfSymbol(
                int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
                ulong.Parse(m.Groups[2].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                size.StartsWith("0x", StringComparison.Ordinal)
                    ? ulong.Parse(size.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                    : ulong.Parse(size, CultureInfo.InvariantCulture),
                m.Groups[4].Value, m.Groups[5].Value, m.Groups[6].Value, m.Groups[7].Value,
                NeededVersionIndex().Replace(m.Groups[8].Value.TrimEnd(), "")));
        }
        return symbols;
    }

    private static string NameWithVersion(JsonElement symbol)
    {
        string name = symbol.GetProperty("name").GetString()!;
        string? version = symbol.GetProperty("version").GetString();
        return symbol.GetProperty("versionKind").GetString() switch
        {
            "default" => $"{name}@@{version}",
            "hidden" or "needed" => $"{name}@{version}",
            null => name,
            var other => throw new Xunit.Sdk.XunitException($"unexpected versionKind {other}"),
        };
    }

    [Theory]
    [InlineData(CliHarness.LibZ)]
    [InlineData(CliHarness.LibC)]
    public void Json_lists_the_same_dynamic_symbols_and_versions_as_readelf(string path)
    {
        var expected = ReadElfDynamicSymbols(path);
        Assert.NotEmpty(expected);

        var result = CliHarness.Run("symbols", path, "--json");

        CliHarness.AssertSuccess(result);
        Assert.Equal("", result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(path, json.RootElement.GetProperty("file").GetString());
        Assert.Equal(expected.Count, json.RootElement.GetProperty("count").GetInt32());
        var actual = json.RootElement.GetProperty("symbols").EnumerateArray().Select(s => new ReadElfSymbol(
            s.GetProperty("index").GetInt32(),
            s.GetProperty("value").GetUInt64(),
            s.GetProperty("size").GetUInt64(),
            s.GetProperty("type").GetString()!,
            s.GetProperty("bind").GetString()!,
            s.GetProperty("visibility").GetString()!,
            s.GetProperty("section").GetString()!,
            NameWithVersion(s))).ToList();
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public void Json_of_libz_names_default_and_needed_versions_and_their_files()
    {
        using var json = JsonDocument.Parse(CliHarness.Run("symbols", CliHarness.LibZ, "--json").Stdout);
        var symbols = json.RootElement.GetProperty("symbols").EnumerateArray().ToList();

        var crc32z = Assert.Single(symbols, s => s.GetProperty("name").GetString() == "crc32_z");
        Assert.Equal("ZLIB_1.2.9", crc32z.GetProperty("version").GetString());
        Assert.Equal("default", crc32z.GetProperty("versionKind").GetString());
        Assert.Equal("FUNC", crc32z.GetProperty("type").GetString());

        var free = Assert.Single(symbols, s => s.GetProperty("name").GetString() == "free");
        Assert.Equal("needed", free.GetProperty("versionKind").GetString());
        Assert.StartsWith("GLIBC_", free.GetProperty("version").GetString());
        Assert.Equal("libc.so.6", free.GetProperty("versionFile").GetString());
        Assert.Equal("UND", free.GetProperty("section").GetString());
    }

    [Fact]
    public void Defined_and_undefined_split_the_table_and_filter_matches_names()
    {
        var all = ReadElfDynamicSymbols(CliHarness.LibZ);

        using var defined = JsonDocument.Parse(CliHarness.Run("symbols", CliHarness.LibZ, "--defined", "--json").Stdout);
        using var undefined = JsonDocument.Parse(CliHarness.Run("symbols", CliHarness.LibZ, "--undefined", "--json").Stdout);
        var definedSections = defined.RootElement.GetProperty("symbols").EnumerateArray().Select(s => s.GetProperty("section").GetString()).ToList();
        var undefinedSections = undefined.RootElement.GetProperty("symbols").EnumerateArray().Select(s => s.GetProperty("section").GetString()).ToList();

        Assert.DoesNotContain("UND", definedSections);
        Assert.All(undefinedSections, s => Assert.Equal("UND", s));
        Assert.Equal(all.Count(s => s.Ndx != "UND"), definedSections.Count);
        Assert.Equal(all.Count(s => s.Ndx == "UND" && s.Index != 0), undefinedSections.Count);

        var filtered = CliHarness.Run("symbols", CliHarness.LibZ, "--defined", "--filter", "INFLATEEND");
        CliHarness.AssertSuccess(filtered);
        Assert.Contains("inflateEnd", filtered.Stdout);
        Assert.DoesNotContain("deflateEnd", filtered.Stdout);
    }

    [Fact]
    public void Text_is_an_aligned_table_with_versioned_names()
    {
        var result = CliHarness.Run("symbols", CliHarness.LibZ);

        CliHarness.AssertSuccess(result);
        var lines = result.Stdout.Split('\n');
        var header = Assert.Single(lines, l => l.TrimStart().StartsWith("Num", StringComparison.Ordinal));
        Assert.Matches(@"Value\s+Size\s+Type\s+Bind\s+Vis\s+Ndx\s+Name", header);
        var crc = Assert.Single(lines, l => l.EndsWith(" crc32_z@@ZLIB_1.2.9", StringComparison.Ordinal));
        Assert.Matches(@"FUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+crc32_z@@ZLIB_1.2.9$", crc);
        Assert.Contains(lines, l => l.EndsWith(" free@GLIBC_2.2.5", StringComparison.Ordinal));
        // Right-aligned columns: every row's Name column starts where the heading's does.
        int nameColumn = header.IndexOf("Name", StringComparison.Ordinal);
        Assert.Equal(nameColumn, crc.IndexOf("crc32_z", StringComparison.Ordinal));
    }
}
