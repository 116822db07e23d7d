using System.Text.Json;
using System.Text.RegularExpressions;

namespace Loader.Tests.Cli;

/// <summary><c>loader bind FILE --all</c>: every binding of the library, as a table and as JSON.</summary>
[Collection("AddressSpace")]
public sealed class BindAllCommandTests
{
    [Fact]
    public void The_table_lists_libz_memcpy_at_glibc_2_14_from_libc()
    {
        var result = CliHarness.Run("bind", CliHarness.LibZ, "--all");

        CliHarness.AssertSuccess(result);
        string[] lines = result.Stdout.Split('\n');
        Assert.StartsWith($"Bindings of libz.so.1 ({CliHarness.LibZ})", lines[0]);
        string memcpy = Assert.Single(lines, l => Regex.IsMatch(l, @"^\s+memcpy\s"));
        Assert.Matches(@"^\s+memcpy\s+@GLIBC_2\.14\s+libc\.so\.6\s+host\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+IFUNC \(resolver 0x[0-9a-f]+, the host's\)\s+1 JUMP_SLOT", memcpy);
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^\s+__gmon_start__\s+\(unresolved weak: 0\)"));
        Assert.Matches(@"\d+ symbols bound to 2 modules; 3 weak references defined nowhere \(0\)\. No code of the library ran", result.Stdout);
    }

    [Fact]
    public void Json_gives_each_symbol_its_version_provider_and_address_inside_the_provider()
    {
        var result = CliHarness.Run("bind", CliHarness.LibZ, "--all", "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        var symbols = json.RootElement.GetProperty("symbols").EnumerateArray().ToList();
        var memcpy = Assert.Single(symbols, s => s.GetProperty("symbol").GetString() == "memcpy");
        Assert.Equal("GLIBC_2.14", memcpy.GetProperty("version").GetString());
        Assert.Equal("libc.so.6", memcpy.GetProperty("provider").GetString());
        Assert.Equal("host", memcpy.GetProperty("providerOrigin").GetString());
        Assert.Equal("IFUNC", memcpy.GetProperty("type").GetString());
        Assert.Equal(["R_X86_64_JUMP_SLOT"], memcpy.GetProperty("relocationTypes").EnumerateArray().Select(t => t.GetString()));
        // Names are unique per version, and every bound one has an address.
        Assert.Equal(symbols.Count, symbols.Select(s => (s.GetProperty("symbol").GetString(), s.GetProperty("version").GetString())).Distinct().Count());
        Assert.All(symbols.Where(s => s.GetProperty("provider").ValueKind == JsonValueKind.String),
            s => Assert.Equal(JsonValueKind.Number, s.GetProperty("address").ValueKind));
        Assert.Equal(3, json.RootElement.GetProperty("unresolved").GetInt32());
    }

    [Fact]
    public void A_library_whose_dependency_cannot_be_found_fails_with_exit_1()
    {
        var result = CliHarness.Run("bind", Fixtures.Path("linking/libneeds_missing.so"), "--all");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains("libloader_absent.so", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr); // no stack trace
    }
}
