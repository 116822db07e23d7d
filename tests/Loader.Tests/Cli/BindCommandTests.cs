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
    [InlineData("compute@VERS_1", "@VERS_1", "given")]
    [InlineData("compute@VERS_2", "@@VERS_2", "given")]
    [InlineData("compute", "@@VERS_2", "reference")] // the library's first relocation against compute asks for VERS_2
    public void A_version_chooses_the_definition(string symbol, string version, string rule)
    {
        var result = CliHarness.Run("bind", Fixtures.Path("linking/libversioned_user.so"), symbol, "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("versioned.so", json.RootElement.GetProperty("provider").GetString());
        Assert.Equal(version, json.RootElement.GetProperty("version").GetString());
        Assert.Equal(rule, json.RootElement.GetProperty("versionRule").GetString());
    }

    [Fact]
    public void Without_a_version_libz_memcpy_is_the_glibc_2_14_ifunc_its_relocation_asks_for()
    {
        var result = CliHarness.Run("bind", CliHarness.LibZ, "memcpy", "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.Equal("GLIBC_2.14", root.GetProperty("requestedVersion").GetString());
        Assert.Equal("reference", root.GetProperty("versionRule").GetString());
        Assert.Contains("DT_VERNEED", root.GetProperty("versionReason").GetString());
        Assert.Equal("libc.so.6", root.GetProperty("provider").GetString());
        Assert.Equal("@@GLIBC_2.14", root.GetProperty("version").GetString());
        Assert.Equal("IFUNC", root.GetProperty("type").GetString());
        // libc's resolver is host code: it ran, and its choice is not the resolver itself.
        Assert.Equal("host", root.GetProperty("resolverRun").GetString());
        var winner = root.GetProperty("scope").EnumerateArray().Single(p => p.GetProperty("binds").GetBoolean());
        Assert.Equal(winner.GetProperty("baseAddress").GetUInt64() + winner.GetProperty("value").GetUInt64(), root.GetProperty("resolver").GetUInt64());
        Assert.NotEqual(root.GetProperty("resolver").GetUInt64(), root.GetProperty("address").GetUInt64());
    }

    [Fact]
    public void Without_a_version_the_text_says_which_rule_chose_it()
    {
        var result = CliHarness.Run("bind", CliHarness.LibZ, "memcpy");

        CliHarness.AssertSuccess(result);
        string[] lines = result.Stdout.Split('\n');
        Assert.Equal($"A reference to 'memcpy@GLIBC_2.14' from libz.so.1 ({CliHarness.LibZ})", lines[0]);
        Assert.Matches(@"^binds to libc\.so\.6 at 0x[0-9a-f]+ = libc\.so\.6\+0x[0-9a-f]+ \(IFUNC memcpy@@GLIBC_2\.14\)$", lines[1]);
        Assert.Equal("Version: the version libz.so.1's DT_VERNEED asks for in its relocation against memcpy.", lines[2]);
        Assert.Matches(@"^IFUNC: its resolver is at 0x[0-9a-f]+ \(libc\.so\.6\+0x[0-9a-f]+\), host code", lines[3]);
    }

    [Fact]
    public void A_name_the_library_does_not_reference_takes_the_providers_default_version()
    {
        // versioned.so defines compute@VERS_1 and compute@@VERS_2 and references neither.
        var result = CliHarness.Run("bind", Fixtures.Path("versioned.so"), "compute", "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("default", json.RootElement.GetProperty("versionRule").GetString());
        Assert.Equal("VERS_2", json.RootElement.GetProperty("requestedVersion").GetString());
        Assert.Equal("@@VERS_2", json.RootElement.GetProperty("version").GetString());
    }

    [Fact]
    public void A_second_version_the_library_references_is_named()
    {
        var result = CliHarness.Run("bind", Fixtures.Path("linking/libversioned_user.so"), "compute");

        CliHarness.AssertSuccess(result);
        Assert.Contains("libversioned_user.so also references compute as @VERS_1: give the version to see that binding.", result.Stdout);
    }

    [Fact]
    public void An_ifunc_of_a_loaded_library_is_explained_without_running_its_resolver()
    {
        var result = CliHarness.Run("bind", Fixtures.Path("linking/libctor_marker.so"), "marked_ifunc", "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.Equal("libctor_marker.so", root.GetProperty("provider").GetString());
        Assert.Equal("IFUNC", root.GetProperty("type").GetString());
        Assert.Equal("not run", root.GetProperty("resolverRun").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("address").ValueKind);
        var winner = root.GetProperty("scope").EnumerateArray().Single(p => p.GetProperty("binds").GetBoolean());
        Assert.Equal(winner.GetProperty("baseAddress").GetUInt64() + winner.GetProperty("value").GetUInt64(), root.GetProperty("resolver").GetUInt64());
    }

    [Fact]
    public void The_text_says_an_ifunc_resolver_was_not_run()
    {
        var result = CliHarness.Run("bind", Fixtures.Path("linking/libctor_marker.so"), "marked_ifunc");

        CliHarness.AssertSuccess(result);
        Assert.Contains("binds to libctor_marker.so (IFUNC marked_ifunc), at the address its resolver would choose", result.Stdout);
        Assert.Matches(@"IFUNC: its resolver is at 0x[0-9a-f]+ \(libctor_marker\.so\+0x[0-9a-f]+\)\. The resolver was NOT run", result.Stdout);
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
    [InlineData(null, false, "give a SYMBOL, or --all for every binding")]
    [InlineData("memcpy", true, "give a SYMBOL or --all, not both")]
    public void A_symbol_and_all_are_one_or_the_other(string? symbol, bool all, string expected)
    {
        var args = new List<string> { "bind", CliHarness.LibZ };
        if (symbol is not null)
            args.Add(symbol);
        if (all)
            args.Add("--all");

        var result = CliHarness.Run([.. args]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
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
