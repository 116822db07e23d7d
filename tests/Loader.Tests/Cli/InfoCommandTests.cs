using System.Text.Json;
using System.Text.RegularExpressions;
using Loader.Cli.Commands;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

public sealed class InfoCommandTests
{
    private static string ReadElfBuildId(string path) =>
        Regex.Match(Readelf.Output("-n", path), @"Build ID: ([0-9a-f]+)").Groups[1].Value;

    private static string ReadElfSoName(string path) =>
        Regex.Match(Readelf.Output("-d", path), @"\(SONAME\)\s+Library soname: \[([^\]]+)\]").Groups[1].Value;

    [Theory]
    [InlineData(CliHarness.LibZ)]
    [InlineData(CliHarness.LibC)]
    public void Shows_the_soname_and_build_id_readelf_prints(string path)
    {
        string buildId = ReadElfBuildId(path);
        string soname = ReadElfSoName(path);
        Assert.NotEmpty(buildId);
        Assert.NotEmpty(soname);

        var result = CliHarness.Run("info", path);

        CliHarness.AssertSuccess(result);
        Assert.Equal("", result.Stderr);
        Assert.Matches($@"(?m)^SONAME:\s+{Regex.Escape(soname)}$", result.Stdout);
        Assert.Matches($@"(?m)^Build ID:\s+{buildId}$", result.Stdout);
        Assert.Matches(@"(?m)^Class:\s+ELF64$", result.Stdout);
        Assert.Matches(@"(?m)^Machine:\s+Advanced Micro Devices X86-64$", result.Stdout);
    }

    [Fact]
    public void Json_of_libc_counts_symbols_relocations_and_relr_addresses()
    {
        var readelfRelocs = Readelf.Output("-r", "-W", CliHarness.LibC);
        var tableSizes = Regex.Matches(readelfRelocs, @"Relocation section '(\.rela\.dyn|\.rela\.plt)' at offset 0x[0-9a-f]+ contains (\d+) entr")
            .ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value));

        var result = CliHarness.Run("info", CliHarness.LibC, "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.Equal("libc.so.6", root.GetProperty("soName").GetString());
        Assert.Equal(ReadElfBuildId(CliHarness.LibC), root.GetProperty("buildId").GetString());
        Assert.Contains("ld-linux-x86-64.so.2", root.GetProperty("needed").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("/lib64/ld-linux-x86-64.so.2", root.GetProperty("interpreter").GetString());
        var symbols = root.GetProperty("dynamicSymbols");
        Assert.Equal(symbols.GetProperty("total").GetInt32(), symbols.GetProperty("defined").GetInt32() + symbols.GetProperty("undefined").GetInt32() + 1);
        var relocations = root.GetProperty("relocations").EnumerateArray()
            .ToDictionary(r => r.GetProperty("table").GetString()!, r => r.GetProperty("count").GetInt32());
        Assert.Equal(tableSizes[".rela.dyn"], relocations["DT_RELA"]);
        Assert.Equal(tableSizes[".rela.plt"], relocations["DT_JMPREL"]);
        if (Regex.IsMatch(readelfRelocs, @"'\.relr\.dyn'"))
            Assert.True(root.GetProperty("relrAddresses").GetInt32() > 0);
    }

    [Fact]
    public void Without_a_file_it_is_a_usage_error_like_every_other_command()
    {
        var info = CliHarness.Run("info");
        var headers = CliHarness.Run("headers");

        Assert.Equal(2, info.ExitCode);
        Assert.Equal("", info.Stdout);
        Assert.Equal(headers.ExitCode, info.ExitCode);
        Assert.Equal(headers.Stderr.Replace("'headers'", "'info'").Replace("loader headers", "loader info"), info.Stderr);
    }
}
