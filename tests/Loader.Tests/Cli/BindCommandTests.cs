using System.Text.Json;
using System.Text.RegularExpressions;

namespace Loader.Tests.Cli;

/// <summary><c>loader bind</c>: which module of the scope provides a symbol, and why.</summary>
[Collection("AddressSpace")]
public sealed class BindCommandTests
{
    [Fact]
    public void Interposition_names_the_first_library_in_scope_order_and_lists_the_second_as_also_defining_it()
    {
        var result = CliHarness.Run("bind", Fixtures.Path("linking/libinterpose_user.so"), "interposed_name");

        CliHarness.AssertSuccess(result);
        string[] lines = result.Stdout.Split('\n');
        Assert.Matches(@"^binds to libinterpose_first\.so at 0x[0-9a-f]+ = libinterpose_first\.so\+0x[0-9a-f]+ \(FUNC interposed_name\)$", lines[1]);
        string first = Assert.Single(lines, l => Regex.IsMatch(l, @"\blocal\s+libinterpose_first\.so\s"));
        string second = Assert.Single(lines, l => Regex.IsMatch(l, @"\blocal\s+libinterpose_second\.so\s"));
        Assert.Contains("<- binds here", first);
        Assert.Contains("also defines it; libinterpose_first.so comes first", second);
        Assert.True(Array.IndexOf(lines, first) < Array.IndexOf(lines, second));
        // The host's global scope comes first, then the library itself.
        int libc = Array.FindIndex(lines, l => Regex.IsMatch(l, @"\bglobal\s+libc\.so\.6\s"));
        int user = Array.FindIndex(lines, l => Regex.IsMatch(l, @"\blocal\s+libinterpose_user\.so\s"));
        Assert.True(libc > 0 && user > libc && Array.IndexOf(lines, first) > user, result.Stdout);
    }

    [Fact]
    public void Json_gives_the_provider_address_offset_and_every_probe()
    {
        var result = CliHarness.Run("bind", Fixtures.Path("linking/libinterpose_user.so"), "interposed_value", "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.Equal("libinterpose_first.so", root.GetProperty("provider").GetString());
        Assert.Equal("OBJECT", root.GetProperty("type").GetString());
        var probes = root.GetProperty("scope").EnumerateArray().ToList();
        var definers = probes.Where(p => p.GetProperty("defines").GetBoolean()).Select(p => p.GetProperty("module").GetString()).ToList();
        Assert.Equal(["libinterpose_first.so", "libinterpose_second.so"], definers);
        var winner = Assert.Single(probes, p => p.GetProperty("binds").GetBoolean());
        Assert.Equal(root.GetProperty("address").GetUInt64() - winner.GetProperty("baseAddress").GetUInt64(), root.GetProperty("offset").GetUInt64());
        Assert.Equal(winner.GetProperty("value").GetUInt64(), root.GetProperty("offset").GetUInt64());
    }

    [Theory]
    [InlineData("compute@VERS_1", "@VERS_1")]
    [InlineData("compute@VERS_2", "@@VERS_2")]
    [InlineData("compute", "@VERS_1")] // unversioned: the base (oldest) version, as glibc's check_match
    public void A_version_chooses_the_definition(string symbol, string version)
    {
        var result = CliHarness.Run("bind", Fixtures.Path("linking/libversioned_user.so"), symbol, "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("versioned.so", json.RootElement.GetProperty("provider").GetString());
        Assert.Equal(version, json.RootElement.GetProperty("version").GetString());
    }

    [Fact]
    public void A_host_symbol_binds_in_the_global_scope()
    {
        var result = CliHarness.Run("bind", CliHarness.LibZ, "memcpy@GLIBC_2.14");

        CliHarness.AssertSuccess(result);
        Assert.Contains("binds to libc.so.6 at 0x", result.Stdout);
    }

    [Fact]
    public void Nothing_provides_it_exits_1_with_a_clear_message()
    {
        string user = Fixtures.Path("linking/libinterpose_user.so");

        var result = CliHarness.Run("bind", user, "no_such_symbol");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("binds to nothing", result.Stdout);
        Assert.StartsWith($"loader: {user}: no module in its scope provides 'no_such_symbol'", result.Stderr);
    }

    [Theory]
    [InlineData("compute@")]
    [InlineData("compute@@")]
    public void A_malformed_symbol_is_a_usage_error(string symbol)
    {
        var result = CliHarness.Run("bind", Fixtures.Path("linking/libversioned_user.so"), symbol);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"symbol '{symbol}'", result.Stderr);
    }

    [Fact]
    public void Help_shows_an_example()
    {
        var result = CliHarness.Run("bind", "--help");
        CliHarness.AssertSuccess(result);
        Assert.Contains("Example: loader bind ", result.Stdout);
    }
}
