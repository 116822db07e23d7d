using System.Text.Json;
using System.Text.RegularExpressions;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary><c>loader deps</c>: the dependency tree as Loader resolves it, checked against <c>ldd</c> (an outside oracle).</summary>
[Collection("AddressSpace")]
public sealed partial class DepsCommandTests
{
    // "libchain_b.so => /path/libchain_b.so (0x...)"; lines without "=>" are the vDSO and the interpreter.
    [GeneratedRegex(@"^\s*(\S+) => (\S+) \(0x[0-9a-f]+\)$")]
    private static partial Regex LddLine();

    // Our text: "  libchain_b.so => /path/libchain_b.so (rule)".
    [GeneratedRegex(@"^(\s+)(\S+) => (\S+) \((.+)\)$")]
    private static partial Regex DepsLine();

    private static readonly HashSet<string> HostRuntime = ["libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
        "ld-linux-x86-64.so.2", "libgcc_s.so.1", "libstdc++.so.6"];

    [Theory]
    [InlineData("chain/libchain_a.so")]
    [InlineData("linking/libinterpose_user.so")]
    [InlineData("linking/libversioned_user.so")]
    [InlineData("linking/libmath_user.so")]
    public void The_tree_matches_ldds_resolution_apart_from_host_libraries(string fixture)
    {
        string path = Fixtures.Path(fixture);
        var ldd = ChildProcess.Run("ldd", path);
        Assert.True(ldd.ExitCode == 0, ldd.Stderr);
        var theirs = ldd.Stdout.Split('\n').Select(l => LddLine().Match(l)).Where(m => m.Success)
            .ToDictionary(m => m.Groups[1].Value, m => Path.GetFullPath(m.Groups[2].Value));

        var result = CliHarness.Run("deps", path);

        CliHarness.AssertSuccess(result);
        var ours = result.Stdout.Split('\n').Select(l => DepsLine().Match(l)).Where(m => m.Success).ToList();
        Assert.NotEmpty(ours);
        var loaded = new Dictionary<string, string>();
        foreach (var m in ours)
        {
            string needed = m.Groups[2].Value, file = m.Groups[3].Value, how = m.Groups[4].Value;
            if (how == "host")
            {
                Assert.Contains(needed, HostRuntime);
                Assert.True(theirs.ContainsKey(needed), $"ldd does not list {needed}, which Loader took from the host");
                continue;
            }
            loaded[needed] = Path.GetFullPath(file);
        }
        // Every library ldd resolves is one Loader loaded from the same file, or a host library.
        foreach (var (needed, file) in theirs)
        {
            if (HostRuntime.Contains(needed))
                continue;
            Assert.True(loaded.TryGetValue(needed, out string? ourFile), $"ldd resolves {needed} => {file}; loader deps does not list it:\n{result.Stdout}");
            Assert.Equal(RealPath(file), RealPath(ourFile));
        }
        Assert.Equal(theirs.Keys.Where(k => !HostRuntime.Contains(k)).Order(), loaded.Keys.Order());
    }

    [Fact]
    public void The_chain_says_which_rule_found_each_library()
    {
        string a = Fixtures.Path("chain/libchain_a.so");

        var result = CliHarness.Run("deps", a);

        CliHarness.AssertSuccess(result);
        string[] lines = result.Stdout.Split('\n');
        Assert.StartsWith($"libchain_a.so => {a} (loaded at 0x", lines[0]);
        Assert.Equal($"  libchain_b.so => {Fixtures.Path("chain/lib/libchain_b.so")} (DT_RUNPATH of {a})", lines[1]);
        Assert.Equal($"    libchain_c.so => {Fixtures.Path("chain/lib/deep/libchain_c.so")} (DT_RUNPATH of {Fixtures.Path("chain/lib/libchain_b.so")})", lines[2]);
        Assert.Matches(@"^      libc\.so\.6 => \S+ \(host\)$", lines[3]);
        Assert.Contains("2 libraries loaded by Loader, 1 host library", result.Stdout);
    }

    [Fact]
    public void Json_is_the_same_tree_with_every_attempt()
    {
        var result = CliHarness.Run("deps", Fixtures.Path("chain/libchain_a.so"), "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.Equal("libchain_a.so", root.GetProperty("name").GetString());
        Assert.False(root.GetProperty("host").GetBoolean());
        var b = root.GetProperty("dependencies").EnumerateArray().Single(d => d.GetProperty("needed").GetString() == "libchain_b.so");
        Assert.Equal("loaded", b.GetProperty("source").GetString());
        Assert.Equal(1, b.GetProperty("depth").GetInt32());
        Assert.Equal("found", b.GetProperty("attempts").EnumerateArray().Last().GetProperty("outcome").GetString());
        var c = b.GetProperty("dependencies").EnumerateArray().Single(d => d.GetProperty("needed").GetString() == "libchain_c.so");
        Assert.Equal(2, c.GetProperty("depth").GetInt32());
        Assert.StartsWith("DT_RUNPATH of ", c.GetProperty("foundVia").GetString());
        var libc = root.GetProperty("dependencies").EnumerateArray().Single(d => d.GetProperty("needed").GetString() == "libc.so.6");
        Assert.Equal("host", libc.GetProperty("source").GetString());
    }

    [Fact]
    public void A_host_library_given_as_the_file_says_host()
    {
        var result = CliHarness.Run("deps", "/usr/lib/x86_64-linux-gnu/libm.so.6");

        CliHarness.AssertSuccess(result);
        Assert.Contains("(host: the process's own copy at 0x", result.Stdout);
    }

    [Fact]
    public void A_missing_dependency_exits_1_listing_where_it_looked()
    {
        // libchain_b.so copied alone: its DT_RUNPATH $ORIGIN/deep has no libchain_c.so next to the copy.
        string directory = Directory.CreateTempSubdirectory("loader-deps-").FullName;
        try
        {
            string copy = Path.Combine(directory, "libchain_b.so");
            File.Copy(Fixtures.Path("chain/lib/libchain_b.so"), copy);

            var result = CliHarness.Run("deps", copy);

            Assert.Equal(1, result.ExitCode);
            Assert.Equal("", result.Stdout);
            Assert.Contains("libchain_c.so", result.Stderr);
            Assert.Contains(Path.Combine(directory, "deep"), result.Stderr);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Help_shows_an_example()
    {
        var result = CliHarness.Run("deps", "--help");
        CliHarness.AssertSuccess(result);
        Assert.Contains("Example: loader deps ", result.Stdout);
    }

    private static string RealPath(string path) => new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(path);
}
