using System.Text.Json;
using System.Text.RegularExpressions;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary><c>loader deps</c>: the dependency tree a load would resolve, read from the files; checked against <c>ldd</c>
/// (an outside oracle).</summary>
[Collection("AddressSpace")]
public sealed partial class DepsCommandTests
{
    // "libchain_b.so => /path/libchain_b.so (0x...)"; the interpreter is "/lib64/ld-linux-x86-64.so.2 (0x...)".
    [GeneratedRegex(@"^\s*(\S+) => (\S+) \(0x[0-9a-f]+\)$")]
    private static partial Regex LddLine();

    [GeneratedRegex(@"^\s*(/\S+/ld-linux[^/\s]*) \(0x[0-9a-f]+\)$")]
    private static partial Regex LddInterpreterLine();

    // Our text: "  libchain_b.so => /path/libchain_b.so (rule)".
    [GeneratedRegex(@"^(\s+)(\S+) => (\S+) \((.+)\)$")]
    private static partial Regex DepsLine();

    [Theory]
    [InlineData("chain/libchain_a.so")]
    [InlineData("linking/libinterpose_user.so")]
    [InlineData("linking/libversioned_user.so")]
    [InlineData("linking/libmath_user.so")]
    [InlineData(SystemLibraries.Directory + "/libcurl.so.4")]
    [InlineData(SystemLibraries.Directory + "/libxml2.so.2")]
    public void The_tree_holds_the_libraries_ldd_lists_from_the_same_files(string library)
    {
        string path = library.StartsWith('/') ? SystemLibraries.Require(Path.GetFileName(library)) : Fixtures.Path(library);
        var ldd = ChildProcess.Run("ldd", path);
        Assert.True(ldd.ExitCode == 0, ldd.Stderr);
        var theirs = new Dictionary<string, string>();
        foreach (string line in ldd.Stdout.Split('\n'))
        {
            if (LddLine().Match(line) is { Success: true } m)
                theirs[m.Groups[1].Value] = m.Groups[2].Value;
            else if (LddInterpreterLine().Match(line) is { Success: true } interpreter)
                theirs[Path.GetFileName(interpreter.Groups[1].Value)] = interpreter.Groups[1].Value;
        }

        var result = CliHarness.Run("deps", path);

        CliHarness.AssertSuccess(result);
        var ours = new Dictionary<string, string>();
        foreach (string line in result.Stdout.Split('\n'))
            if (DepsLine().Match(line) is { Success: true } m && !m.Groups[4].Value.Contains("listed"))
                ours.Add(m.Groups[2].Value, m.Groups[3].Value); // each library is listed (expanded) once
        Assert.Equal(theirs.Keys.Order(), ours.Keys.Order());
        foreach (var (needed, file) in theirs)
            Assert.True(SystemLibraries.RealPath(file) == SystemLibraries.RealPath(ours[needed]), $"{needed}: ldd says {file}, loader deps says {ours[needed]}");
    }

    [Fact]
    public void The_chain_says_which_rule_found_each_library()
    {
        string a = Fixtures.Path("chain/libchain_a.so");

        var result = CliHarness.Run("deps", a);

        CliHarness.AssertSuccess(result);
        string[] lines = result.Stdout.Split('\n');
        Assert.Equal($"libchain_a.so => {a}", lines[0]);
        Assert.Equal($"  libchain_b.so => {Fixtures.Path("chain/lib/libchain_b.so")} (DT_RUNPATH of {a})", lines[1]);
        Assert.Equal($"    libchain_c.so => {Fixtures.Path("chain/lib/deep/libchain_c.so")} (DT_RUNPATH of {Fixtures.Path("chain/lib/libchain_b.so")})", lines[2]);
        // libc is first needed by libchain_a.so (breadth-first): expanded there, and the deeper entries point at it.
        Assert.Matches(@"^      libc\.so\.6 => \S+ \(host, listed below\)$", lines[3]);
        Assert.Matches(@"^  libc\.so\.6 => \S+ \(host\)$", lines[5]);
        Assert.Matches(@"^    ld-linux-x86-64\.so\.2 => \S+ \(host\)$", lines[6]);
        Assert.Contains("4 libraries: 2 found, 2 from the host, 0 missing; 2 DT_NEEDED entries named a library already listed.", result.Stdout);
    }

    [Fact]
    public void Verbose_lists_every_place_searched()
    {
        string b = Fixtures.Path("chain/lib/libchain_b.so");

        var result = CliHarness.Run("deps", Fixtures.Path("chain/libchain_a.so"), "--verbose");

        CliHarness.AssertSuccess(result);
        Assert.Contains($"      tried {Fixtures.Path("chain/lib/deep/libchain_c.so")} (DT_RUNPATH of {b}): found", result.Stdout);
        Assert.Contains("(not searched: the process's copy)", result.Stdout);
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
        Assert.Equal("found", b.GetProperty("status").GetString());
        Assert.Equal(1, b.GetProperty("depth").GetInt32());
        Assert.Equal("found", b.GetProperty("attempts").EnumerateArray().Last().GetProperty("outcome").GetString());
        var c = b.GetProperty("dependencies").EnumerateArray().Single(d => d.GetProperty("needed").GetString() == "libchain_c.so");
        Assert.Equal(2, c.GetProperty("depth").GetInt32());
        Assert.StartsWith("DT_RUNPATH of ", c.GetProperty("foundVia").GetString());
        var libc = root.GetProperty("dependencies").EnumerateArray().Single(d => d.GetProperty("needed").GetString() == "libc.so.6");
        Assert.Equal("host", libc.GetProperty("status").GetString());
        var summary = root.GetProperty("summary");
        Assert.Equal(4, summary.GetProperty("libraries").GetInt32());
        Assert.Equal(2, summary.GetProperty("found").GetInt32());
        Assert.Equal(2, summary.GetProperty("host").GetInt32());
    }

    [Theory]
    [InlineData("chain/libchain_a.so")]
    [InlineData("linking/libneeds_missing.so")]
    [InlineData(SystemLibraries.Directory + "/libcurl.so.4")]
    public void The_summary_counts_each_library_of_the_tree_once(string library)
    {
        string path = library.StartsWith('/') ? SystemLibraries.Require(Path.GetFileName(library)) : Fixtures.Path(library);

        var result = CliHarness.Run("deps", path, "--json");

        using var json = JsonDocument.Parse(result.Stdout);
        var nodes = new List<JsonElement>();
        void Walk(JsonElement list)
        {
            foreach (var node in list.EnumerateArray())
            {
                nodes.Add(node);
                Walk(node.GetProperty("dependencies"));
            }
        }
        Walk(json.RootElement.GetProperty("dependencies"));
        var first = nodes.Where(n => n.GetProperty("status").GetString() != "reused").ToList();
        var summary = json.RootElement.GetProperty("summary");
        int Count(string status) => first.Count(n => n.GetProperty("status").GetString() == status);
        Assert.Equal(first.Count, summary.GetProperty("libraries").GetInt32());
        Assert.Equal(Count("found"), summary.GetProperty("found").GetInt32());
        Assert.Equal(Count("host"), summary.GetProperty("host").GetInt32());
        Assert.Equal(Count("missing"), summary.GetProperty("missing").GetInt32());
        Assert.Equal(Count("unusable"), summary.GetProperty("unusable").GetInt32());
        Assert.Equal(nodes.Count - first.Count, summary.GetProperty("repeats").GetInt32());
        Assert.Equal(first.Count, first.Select(n => n.GetProperty("path").GetString() ?? n.GetProperty("needed").GetString()).Distinct().Count());
        Assert.Equal(Count("missing") + Count("unusable") == 0 ? 0 : 1, result.ExitCode);
    }

    [Fact]
    public void A_host_library_given_as_the_file_says_host_and_shows_its_own_dependencies()
    {
        var result = CliHarness.Run("deps", "/usr/lib/x86_64-linux-gnu/libm.so.6");

        CliHarness.AssertSuccess(result);
        string[] lines = result.Stdout.Split('\n');
        Assert.Matches(@"^libm\.so\.6 => /usr/lib/x86_64-linux-gnu/libm\.so\.6 \(host: a load uses the process's own copy at 0x[0-9a-f]+\)$", lines[0]);
        // libm's DT_NEEDED (libc.so.6, ld-linux-x86-64.so.2) and libc's own (ld-linux-x86-64.so.2), read from the files.
        Assert.Matches(@"^  libc\.so\.6 => \S+ \(host\)$", lines[1]);
        Assert.Matches(@"^    ld-linux-x86-64\.so\.2 => \S+ \(host, listed below\)$", lines[2]);
        Assert.Matches(@"^  ld-linux-x86-64\.so\.2 => \S+ \(host\)$", lines[3]);
    }

    [Fact]
    public void A_missing_dependency_is_marked_in_the_whole_tree_and_exits_1()
    {
        string user = Fixtures.Path("linking/libneeds_missing.so");

        var result = CliHarness.Run("deps", user);

        Assert.Equal(1, result.ExitCode);
        string[] lines = result.Stdout.Split('\n');
        Assert.Equal($"libneeds_missing.so => {user}", lines[0]);
        Assert.Equal($"  libctor_marker.so => {Fixtures.Path("linking/libctor_marker.so")} (DT_RUNPATH of {user})", lines[1]);
        Assert.Contains("  libloader_absent.so => not found (MISSING: ", result.Stdout);
        Assert.Contains("4 libraries: 1 found, 2 from the host, 1 missing;", result.Stdout);
        Assert.StartsWith($"loader: {user}: libloader_absent.so (needed by libneeds_missing.so) not found; ", result.Stderr);
    }

    [Fact]
    public void A_missing_dependency_in_json_has_every_attempt()
    {
        string user = Fixtures.Path("linking/libneeds_missing.so");

        var result = CliHarness.Run("deps", user, "--json");

        Assert.Equal(1, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stdout);
        var missing = json.RootElement.GetProperty("dependencies").EnumerateArray().Single(d => d.GetProperty("needed").GetString() == "libloader_absent.so");
        Assert.Equal("missing", missing.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, missing.GetProperty("path").ValueKind);
        var attempts = missing.GetProperty("attempts").EnumerateArray().ToList();
        Assert.Contains(attempts, a => a.GetProperty("path").GetString() == Path.Combine(Fixtures.Directory, "linking", "libloader_absent.so")
            && a.GetProperty("source").GetString() == $"DT_RUNPATH of {user}");
        Assert.All(attempts, a => Assert.NotEqual("found", a.GetProperty("outcome").GetString()));
    }

    [Fact]
    public void A_dependency_missing_deeper_down_lists_where_it_looked()
    {
        // libchain_b.so copied alone: its DT_RUNPATH $ORIGIN/deep has no libchain_c.so next to the copy.
        string directory = Directory.CreateTempSubdirectory("loader-deps-").FullName;
        try
        {
            string copy = Path.Combine(directory, "libchain_b.so");
            File.Copy(Fixtures.Path("chain/lib/libchain_b.so"), copy);

            var result = CliHarness.Run("deps", copy, "--verbose");

            Assert.Equal(1, result.ExitCode);
            Assert.Contains("  libchain_c.so => not found (MISSING: ", result.Stdout);
            Assert.Contains($"tried {Path.Combine(directory, "deep", "libchain_c.so")} (DT_RUNPATH of {copy}): not found", result.Stdout);
            Assert.Contains("libchain_c.so", result.Stderr);
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
        Assert.Contains("--verbose", result.Stdout);
    }
}
