using Loader.Elf;
using Loader.Linking;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

public class LibrarySearchTests(SearchTree tree) : IClassFixture<SearchTree>
{
    private static readonly LdSoCache NoCache = LdSoCache.Empty;

    // ---- against ldd ---------------------------------------------------------------------------------------

    [Fact]
    public void FixtureChainThroughRunPathOriginMatchesLdd()
    {
        string a = Fixtures.Path("chain/libchain_a.so");
        SearchOracles.AssertSameAsLdd(a, expectNames: ["libchain_b.so", "libchain_c.so", "libc.so.6"]);

        var search = new LibrarySearch(ldLibraryPath: "");
        using var fileA = ElfFile.Open(a);
        var requesterA = LibraryRequester.For(fileA, null);
        var attempts = new List<SearchAttempt>();
        string b = search.Find("libchain_b.so", requesterA, attempts)!;
        Assert.Equal(Path.Join(Path.GetDirectoryName(a), "lib", "libchain_b.so"), b);
        Assert.Equal(new SearchAttempt(b, $"DT_RUNPATH of {a}", "found"), attempts[^1]);

        using var fileB = ElfFile.Open(b);
        string c = search.Resolve("libchain_c.so", LibraryRequester.For(fileB, requesterA));
        Assert.Equal(Fixtures.Path("chain/lib/deep/libchain_c.so"), Path.GetFullPath(c));
    }

    [Theory]
    [InlineData("linking/libinterpose_user.so")]
    [InlineData("linking/libweak.so")]
    [InlineData("linking/libctors.so")]
    [InlineData("linking/libmath_user.so")]
    [InlineData("linking/libversioned_user.so")]
    [InlineData("basic.so")]
    public void FixtureDependencyTreesMatchLdd(string fixture) => SearchOracles.AssertSameAsLdd(Fixtures.Path(fixture));

    [Theory]
    [InlineData("libstdc++.so.6")]
    [InlineData("libz.so.1")]
    [InlineData("libxml2.so.2")]
    [InlineData("libcurl.so.4")]
    [InlineData("libssl.so.3")]
    public void SystemLibraryTreesMatchLdd(string soname)
    {
        string? path = LdSoCache.System.Lookup(soname);
        Assert.True(path is not null, SystemLibraries.NotInstalled(soname, "not in /etc/ld.so.cache"));
        SearchOracles.AssertSameAsLdd(path);
    }

    [Fact]
    public void RPathIsInheritedAndRunPathIsNot_AsLddSays()
    {
        using (var rpathTop = ElfFile.Open(tree.P("top/libtop_rpath.so")))
        {
            Assert.NotNull(rpathTop.RPath);
            Assert.Null(rpathTop.RunPath);
        }
        // DT_RPATH of top serves mid's libleaf.so; DT_RUNPATH of top does not.
        SearchOracles.AssertSameAsLdd(tree.P("top/libtop_rpath.so"), expectNames: ["libmid.so", "libleaf.so"]);
        SearchOracles.AssertSameAsLdd(tree.P("top/libtop_runpath.so"), expectNames: ["libmid.so", "libleaf.so"]);
        Assert.Null(SearchOracles.Ldd(tree.P("top/libtop_runpath.so"))["libleaf.so"]);
        Assert.Equal(tree.P("top/../leafdir/libleaf.so"), SearchOracles.Ldd(tree.P("top/libtop_rpath.so"))["libleaf.so"]);
        // A library with DT_RUNPATH does not use the DT_RPATH inherited from its loader.
        SearchOracles.AssertSameAsLdd(tree.P("top2/libtop.so"), expectNames: ["libmid.so", "libleaf.so"]);
        Assert.Null(SearchOracles.Ldd(tree.P("top2/libtop.so"))["libleaf.so"]);
    }

    [Fact]
    public void InheritedRPathIsRecordedWithItsOwner()
    {
        string top = tree.P("top/libtop_rpath.so");
        var topRequester = new LibraryRequester(top, null, "$ORIGIN/../middir:$ORIGIN/../leafdir", null);
        var mid = new LibraryRequester(tree.P("middir/libmid.so"), null, null, topRequester);
        var attempts = new List<SearchAttempt>();
        string? leaf = new LibrarySearch(ldLibraryPath: "", cache: NoCache).Find("libleaf.so", mid, attempts);
        Assert.Equal(tree.P("top/../leafdir/libleaf.so"), leaf);
        Assert.Equal(
            [new(tree.P("top/../middir/libleaf.so"), $"DT_RPATH of {top}", "not found"),
             new(tree.P("top/../leafdir/libleaf.so"), $"DT_RPATH of {top}", "found")],
            attempts);

        // The same paths as DT_RUNPATH of the loader: not inherited, so never tried.
        var runpathMid = mid with { LoadedBy = topRequester with { RunPath = topRequester.RPath, RPath = null } };
        attempts.Clear();
        Assert.Null(new LibrarySearch(ldLibraryPath: "", cache: NoCache).Find("libleaf.so", runpathMid, attempts));
        Assert.DoesNotContain(attempts, a => a.Source.Contains("of " + top));
    }

    [Fact]
    public void LdLibraryPathOrderMatchesLdd()
    {
        string mid = tree.P("middir/libmid.so");
        foreach (string list in new[] { $"{tree.P("alt")}:{tree.P("leafdir")}", $"{tree.P("leafdir")};{tree.P("alt")}", $"/nonexistent-loader-dir::{tree.P("alt")}" })
        {
            SearchOracles.AssertSameAsLdd(mid, list, ["libleaf.so"]);
        }
        Assert.Equal(tree.P("alt/libleaf.so"), new LibrarySearch(ldLibraryPath: $"{tree.P("alt")}:{tree.P("leafdir")}").Resolve("libleaf.so", null));
        Assert.Equal(tree.P("leafdir/libleaf.so"), new LibrarySearch(ldLibraryPath: $"{tree.P("leafdir")};{tree.P("alt")}/").Resolve("libleaf.so", null));
    }

    [Fact]
    public void RPathPrecedesLdLibraryPathWhichPrecedesRunPath()
    {
        var search = new LibrarySearch(ldLibraryPath: tree.P("alt"), cache: NoCache);
        var withRPath = new LibraryRequester(tree.P("top/x.so"), null, "$ORIGIN/../leafdir", null);
        Assert.Equal(tree.P("top/../leafdir/libleaf.so"), search.Resolve("libleaf.so", withRPath));
        var withRunPath = new LibraryRequester(tree.P("top/x.so"), "$ORIGIN/../leafdir", null, null);
        Assert.Equal(tree.P("alt/libleaf.so"), search.Resolve("libleaf.so", withRunPath));
        // Both: DT_RPATH is ignored.
        var withBoth = new LibraryRequester(tree.P("top/x.so"), "$ORIGIN/../leafdir", "$ORIGIN/../nothing", null);
        var attempts = new List<SearchAttempt>();
        new LibrarySearch(ldLibraryPath: "", cache: NoCache).Find("libleaf.so", withBoth, attempts);
        Assert.DoesNotContain(attempts, a => a.Source.StartsWith("DT_RPATH", StringComparison.Ordinal));
    }

    [Fact]
    public void SearchPathsComeAfterRunPathAndBeforeTheCache()
    {
        string sp = Directory.CreateDirectory(tree.P("sp")).FullName;
        File.Copy(LdSoCache.System.Lookup("libz.so.1")!, Path.Join(sp, "libz.so.1"), overwrite: true);

        var attempts = new List<SearchAttempt>();
        Assert.Equal(Path.Join(sp, "libz.so.1"), new LibrarySearch([sp], ldLibraryPath: "").Find("libz.so.1", null, attempts));
        Assert.Equal(new SearchAttempt(Path.Join(sp, "libz.so.1"), "LoadOptions.SearchPaths", "found"), attempts.Single());

        attempts.Clear();
        Assert.Equal(LdSoCache.System.Lookup("libz.so.1"), new LibrarySearch([], ldLibraryPath: "").Find("libz.so.1", null, attempts));
        Assert.Equal("/etc/ld.so.cache", attempts.Single().Source);

        var runpath = new LibraryRequester(tree.P("top/x.so"), "$ORIGIN/../leafdir", null, null);
        Assert.Equal(tree.P("top/../leafdir/libleaf.so"), new LibrarySearch([tree.P("alt")], "").Resolve("libleaf.so", runpath));
        Assert.Equal(tree.P("alt/libleaf.so"), new LibrarySearch([tree.P("alt")], "").Resolve("libleaf.so", null));
    }

    [Fact]
    public void WithoutTheCacheTheDefaultDirectoriesAnswer()
    {
        var attempts = new List<SearchAttempt>();
        string? z = new LibrarySearch(ldLibraryPath: "", cache: NoCache).Find("libz.so.1", null, attempts);
        Assert.Equal("/lib/x86_64-linux-gnu/libz.so.1", z);
        Assert.Equal("default directory", attempts[^1].Source);
    }

    [Fact]
    public void WrongClassAndWrongMachineAreSkipped_AsLddDoes()
    {
        string mid = tree.P("middir/libmid.so");
        string list = $"{tree.P("bad32")}:{tree.P("arm")}:{tree.P("leafdir")}";
        SearchOracles.AssertSameAsLdd(mid, list, ["libleaf.so"]);

        var attempts = new List<SearchAttempt>();
        Assert.Equal(tree.P("leafdir/libleaf.so"), new LibrarySearch(ldLibraryPath: list).Find("libleaf.so", null, attempts));
        Assert.Equal(
            [new(tree.P("bad32/libleaf.so"), "LD_LIBRARY_PATH", "wrong ELF class"),
             new(tree.P("arm/libleaf.so"), "LD_LIBRARY_PATH", "wrong machine"),
             new(tree.P("leafdir/libleaf.so"), "LD_LIBRARY_PATH", "found")],
            attempts);
    }

    [Fact]
    public void ANonElfCandidateStopsTheSearch_AsGlibcDoes()
    {
        string list = $"{tree.P("text")}:{tree.P("leafdir")}";
        // ldd relays ld.so's messages on its standard output.
        var (code, stdout, stderr) = ChildProcess.Run("ldd", [tree.P("middir/libmid.so")], new Dictionary<string, string?> { ["LD_LIBRARY_PATH"] = list });
        Assert.NotEqual(0, code);
        Assert.Contains($"{tree.P("text/libleaf.so")}: invalid ELF header", stdout + stderr);

        var attempts = new List<SearchAttempt>();
        var e = Assert.Throws<ElfFormatException>(() => new LibrarySearch(ldLibraryPath: list).Find("libleaf.so", null, attempts));
        Assert.Equal(tree.P("text/libleaf.so"), e.FileName);
        Assert.Contains("invalid ELF header", e.Message);
        Assert.Equal(new SearchAttempt(tree.P("text/libleaf.so"), "LD_LIBRARY_PATH", "invalid ELF header"), attempts.Single());

        // Shorter than an Elf64_Ehdr: glibc checks the length before the magic.
        list = $"{tree.P("short")}:{tree.P("leafdir")}";
        (code, stdout, stderr) = ChildProcess.Run("ldd", [tree.P("middir/libmid.so")], new Dictionary<string, string?> { ["LD_LIBRARY_PATH"] = list });
        Assert.NotEqual(0, code);
        Assert.Contains($"{tree.P("short/libleaf.so")}: file too short", stdout + stderr);
        e = Assert.Throws<ElfFormatException>(() => new LibrarySearch(ldLibraryPath: list).Resolve("libleaf.so", null));
        Assert.Contains("file too short", e.Message);
    }

    [Fact]
    public void NotFoundListsEveryAttemptInOrder()
    {
        string req = tree.P("nf/libreq.so");
        string loader = tree.P("nf/libloader.so");
        var requester = new LibraryRequester(req, null, "$ORIGIN/r1", new LibraryRequester(loader, null, "$ORIGIN/r2:$ORIGIN/r1", null));
        var search = new LibrarySearch([tree.P("nf/s1")], $"{tree.P("nf/l1")};{tree.P("nf/l2")}", NoCache);
        const string name = "libnowhere-loader-test.so.7";

        var e = Assert.Throws<LibraryNotFoundException>(() => search.Resolve(name, requester));
        Assert.Equal(name, e.Name);
        Assert.Equal(req, e.RequesterPath);
        var expected = new List<SearchAttempt>
        {
            new(tree.P("nf/r1/" + name), $"DT_RPATH of {req}", "not found"),
            new(tree.P("nf/r2/" + name), $"DT_RPATH of {loader}", "not found"),
            new(tree.P("nf/r1/" + name), $"DT_RPATH of {loader}", "not found"),
            new(tree.P("nf/l1/" + name), "LD_LIBRARY_PATH", "not found"),
            new(tree.P("nf/l2/" + name), "LD_LIBRARY_PATH", "not found"),
            new(tree.P("nf/s1/" + name), "LoadOptions.SearchPaths", "not found"),
        };
        // Then each default directory (after any hwcap subdirectory of it that exists on this machine).
        var defaults = e.Attempts.Skip(expected.Count).ToList();
        Assert.All(defaults, a => Assert.Equal("default directory", a.Source));
        Assert.Equal(LibrarySearch.DefaultDirectories.Select(d => Path.Join(d, name)),
            defaults.Where(a => LibrarySearch.DefaultDirectories.Contains(Path.GetDirectoryName(a.Path))).Select(a => a.Path));
        Assert.Equal(expected, e.Attempts.Take(expected.Count));

        Assert.StartsWith($"{name} (needed by {req}) not found; looked in: {expected[0].Path} (DT_RPATH of {req}: not found), ", e.Message);
        int at = 0;
        foreach (var attempt in e.Attempts)
        {
            int next = e.Message.IndexOf(attempt.ToString(), at, StringComparison.Ordinal);
            Assert.True(next >= at, $"{attempt} missing or out of order in: {e.Message}");
            at = next + 1;
        }

        // With a DT_RUNPATH, no DT_RPATH at all, and the DT_RUNPATH comes after LD_LIBRARY_PATH.
        var withRunPath = requester with { RunPath = "$ORIGIN/u" };
        var attempts = new List<SearchAttempt>();
        Assert.Null(search.Find(name, withRunPath, attempts));
        Assert.Equal(["LD_LIBRARY_PATH", "LD_LIBRARY_PATH", $"DT_RUNPATH of {req}", "LoadOptions.SearchPaths"],
            attempts.Take(4).Select(a => a.Source));
    }

    [Fact]
    public void AWrongClassOnlyResultSaysSo()
    {
        var e = Assert.Throws<LibraryNotFoundException>(() =>
            new LibrarySearch(ldLibraryPath: tree.P("bad32"), cache: NoCache).Resolve("libleaf.so", null));
        Assert.Null(e.RequesterPath);
        Assert.StartsWith($"libleaf.so not found; looked in: {tree.P("bad32/libleaf.so")} (LD_LIBRARY_PATH: wrong ELF class)", e.Message);
    }

    [Fact]
    public void ANameWithASlashIsAPathWithOriginExpanded()
    {
        var requester = new LibraryRequester(tree.P("top/x.so"), null, null, null);
        var attempts = new List<SearchAttempt>();
        Assert.Equal(tree.P("top/../leafdir/libleaf.so"), new LibrarySearch(ldLibraryPath: "").Find("$ORIGIN/../leafdir/libleaf.so", requester, attempts));
        Assert.Equal("path in the name", attempts.Single().Source);
        attempts.Clear();
        Assert.Null(new LibrarySearch(ldLibraryPath: "").Find(tree.P("leafdir/libnope.so"), requester, attempts));
        Assert.Equal("not found", attempts.Single().Outcome);
    }

    // ---- $ORIGIN, $LIB, $PLATFORM and the hwcap subdirectories, against glibc's own LD_DEBUG=libs ----------------

    [Fact]
    public void DynamicStringTokensExpandLikeGlibc()
    {
        Assert.Equal("/o/x", LibrarySearch.SubstituteDynamicStringTokens("$ORIGIN/x", "/o"));
        Assert.Equal("/o/x", LibrarySearch.SubstituteDynamicStringTokens("${ORIGIN}/x", "/o"));
        Assert.Equal("$ORIGINAL/x", LibrarySearch.SubstituteDynamicStringTokens("$ORIGINAL/x", "/o"));
        Assert.Equal("$FOO/x", LibrarySearch.SubstituteDynamicStringTokens("$FOO/x", "/o"));
        Assert.Equal("${ORIGIN/x", LibrarySearch.SubstituteDynamicStringTokens("${ORIGIN/x", "/o"));
        Assert.Equal("", LibrarySearch.SubstituteDynamicStringTokens("$ORIGIN/x", null));
        Assert.Equal("lib/x86_64-linux-gnu", LibrarySearch.SubstituteDynamicStringTokens("$LIB", null));

        // ld.so --help: "  haswell (AT_PLATFORM; supported, searched)".
        var (_, help, _) = ChildProcess.Run("/lib64/ld-linux-x86-64.so.2", ["--help"]);
        string platformLine = help.Split('\n').Single(l => l.Contains("(AT_PLATFORM"));
        Assert.Equal(platformLine.Trim().Split(' ')[0], LibrarySearch.SubstituteDynamicStringTokens("$PLATFORM", null));
    }

    [Fact]
    public void RunPathElementsAfterExpansionMatchGlibcsSearchPath()
    {
        string dst = tree.P("dst/libdst.so");
        using var file = ElfFile.Open(dst);
        var (_, stdout, stderr) = ChildProcess.Run("ldd", [dst], new Dictionary<string, string?> { ["LD_DEBUG"] = "libs" });
        string line = (stdout + stderr).Split('\n').First(l => l.Contains("search path=") && l.Contains($"(RUNPATH from file {dst})"));
        string[] glibc = line[(line.IndexOf("search path=", StringComparison.Ordinal) + 12)..line.IndexOf("\t\t(RUNPATH", StringComparison.Ordinal)].Split(':');

        // glibc prints each element with every hwcap subdirectory first and the element itself last.
        int per = LibrarySearch.HardwareCapabilitySubdirectories.Count;
        Assert.Equal(0, glibc.Length % per);
        var baseElements = glibc.Where((_, i) => i % per == per - 1).ToList();
        Assert.Equal(baseElements, LibrarySearch.SplitPathList(file.RunPath!, ":", LibrarySearch.OriginOf(dst)));
    }

    [Fact]
    public void HardwareCapabilitySubdirectoriesMatchGlibcsSearchPath()
    {
        const string dir = "/nonexistent-loader-hwcaps-test";
        var (_, _, stderr) = ChildProcess.Run("/bin/true", [], new Dictionary<string, string?> { ["LD_DEBUG"] = "libs", ["LD_LIBRARY_PATH"] = dir });
        string line = stderr.Split('\n').First(l => l.Contains("search path=") && l.Contains("(LD_LIBRARY_PATH)"));
        string[] glibc = line[(line.IndexOf("search path=", StringComparison.Ordinal) + 12)..line.IndexOf("\t\t(LD_LIBRARY_PATH", StringComparison.Ordinal)].Split(':');
        Assert.Equal(glibc, LibrarySearch.HardwareCapabilitySubdirectories.Select(s => s.Length == 0 ? dir : $"{dir}/{s}"));
    }

    [Fact]
    public void AnExistingHwcapSubdirectoryWinsAsInGlibc()
    {
        string hw = Directory.CreateDirectory(tree.P("hw")).FullName;
        var subdirectories = LibrarySearch.HardwareCapabilitySubdirectories;
        // The second-best and the last-but-one subdirectories, and the directory itself, hold a copy.
        foreach (string sub in new[] { subdirectories[Math.Min(1, subdirectories.Count - 2)], subdirectories[^2], "" })
        {
            string d = Directory.CreateDirectory(Path.Join(hw, sub)).FullName;
            File.Copy(tree.P("leafdir/libleaf.so"), Path.Join(d, "libleaf.so"), overwrite: true);
        }
        SearchOracles.AssertSameAsLdd(tree.P("middir/libmid.so"), hw, ["libleaf.so"]);
        var attempts = new List<SearchAttempt>();
        string? found = new LibrarySearch(ldLibraryPath: hw).Find("libleaf.so", null, attempts);
        Assert.Equal(Path.Join(hw, subdirectories[Math.Min(1, subdirectories.Count - 2)], "libleaf.so"), found);
    }
}
