using Loader.Elf;
using Loader.Linking;
using Loader.Tests.Oracles;
using Xunit.Abstractions;

namespace Loader.Tests.Linking;

/// <summary>
/// The global scope's memo answers a relocation's lookup in the host libraries with what an earlier lookup found
/// there. It must answer exactly as the walk would, for a name asked for under any version: two oracles, the walk over
/// the whole global scope for every name and version the host libraries define, and glibc's <c>dlvsym</c> for a
/// library that binds one name under two versions, on a load the memo answers.
/// </summary>
public sealed unsafe class GlobalScopeMemoTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_name_the_global_scope_defines_is_answered_as_the_walk_finds_it_unversioned_and_under_each_version()
    {
        using var context = new LoaderContext();
        using var libz = context.Load(SystemLibraries.Require("libz.so.1"));
        var scope = libz.LoadedModule.Scope!;
        var memo = Assert.IsType<GlobalScopeMemo>(scope.GlobalMemo);
        var global = scope.First.ToArray();
        Assert.Contains(global, m => m.Name == "libc.so.6");

        int answered = 0, versioned = 0;
        byte[] absent = "LOADER_NO_SUCH_VERSION"u8.ToArray();
        foreach (var module in global)
        {
            var tables = module.Tables!;
            var symbols = tables.Symbols!;
            for (int i = (int)tables.GnuHash!.SymbolOffset; i < symbols.Count; i++)
            {
                if (symbols[i].IsUndefined)
                    continue;
                var name = new SymbolName(symbols.GetNameBytes(i));
                answered += Compare(memo, global, name, tables, hasVersion: false, 0);
                if (tables.Versions is { } versions && versions.TryGetNameOffset(i, isDefined: true, out uint offset))
                    versioned += Compare(memo, global, name, tables, hasVersion: true, offset);
                // A version nothing defines: the walk accepts only an unversioned definition, which the memo never
                // remembers for a versioned request, so it must not answer.
                Assert.False(memo.TryFind(name, absent, versioned: true, out var wrong),
                    $"{symbols.GetName(i)}@LOADER_NO_SUCH_VERSION: the memo answered {wrong.Module?.Name} #{wrong.Index}");
            }
        }
        output.WriteLine($"{answered} unversioned and {versioned} versioned lookups answered by the memo as by the walk");
        Assert.True(answered > 5000, $"only {answered} names answered: the global scope is not the host's runtime libraries");
        Assert.True(versioned > 1000, $"only {versioned} versioned names answered");
    }

    /// <summary>The walk's answer, then the memo's before and after it remembers the walk's: equal whenever the memo
    /// answers. 1 when the memo answered after remembering, else 0.</summary>
    private static int Compare(GlobalScopeMemo memo, Module[] global, in SymbolName name, DynamicTables versionTables,
        bool hasVersion, uint versionOffset)
    {
        var request = hasVersion
            ? new VersionRequest(null, false, false) { NameTable = versionTables.Strings, NameOffset = versionOffset, HasNameBytes = true }
            : default;
        var version = hasVersion ? versionTables.Strings.GetBytes(versionOffset) : default;
        bool walked = SymbolLookup.FindFirst(global, name, request, out var viaWalk);
        string text = System.Text.Encoding.UTF8.GetString(name.Bytes) + (hasVersion ? "@" + System.Text.Encoding.UTF8.GetString(version) : "");
        if (memo.TryFind(name, version, hasVersion, out var before))
            AssertSame(walked, viaWalk, before, text);
        if (walked)
            memo.Remember(name, version, hasVersion, viaWalk);
        if (!memo.TryFind(name, version, hasVersion, out var after))
            return 0; // not one the memo keeps (an STB_GNU_UNIQUE definition, another version accepted)
        AssertSame(walked, viaWalk, after, text);
        return 1;
    }

    private static void AssertSame(bool walked, in ResolvedSymbol viaWalk, in ResolvedSymbol viaMemo, string name) =>
        Assert.True(walked && viaWalk.Module == viaMemo.Module && viaWalk.Index == viaMemo.Index,
            $"{name}: the walk finds {(walked ? $"{viaWalk.Module.Name} #{viaWalk.Index}" : "nothing")}, the memo {viaMemo.Module.Name} #{viaMemo.Index}");

    /// <summary>
    /// realpath and pthread_cond_wait, each bound under its default and its GLIBC_2.2.5 version: every binding must be
    /// glibc's <c>dlvsym</c> answer on the first load (the walk, remembered) and on the loads after it (the memo).
    /// </summary>
    [Fact]
    public void A_libc_name_bound_under_two_versions_binds_each_as_dlvsym_on_every_load()
    {
        nint libc = Glibc.OpenLoaded("libc.so.6");
        Assert.NotEqual(0, libc);
        (string Export, nint Expected)[] bindings =
        [
            ("bound_realpath", Glibc.VersionedSymbol(libc, "realpath", "GLIBC_2.3")),
            ("bound_realpath_old", Glibc.VersionedSymbol(libc, "realpath", "GLIBC_2.2.5")),
            ("bound_pthread_cond_wait", Glibc.VersionedSymbol(libc, "pthread_cond_wait", "GLIBC_2.3.2")),
            ("bound_pthread_cond_wait_old", Glibc.VersionedSymbol(libc, "pthread_cond_wait", "GLIBC_2.2.5")),
        ];
        Assert.DoesNotContain(bindings, b => b.Expected == 0);
        Assert.NotEqual(bindings[0].Expected, bindings[1].Expected);
        Assert.NotEqual(bindings[2].Expected, bindings[3].Expected);

        for (int load = 0; load < 3; load++)
        {
            using var library = new LoaderContext().Load(Fixtures.Path("linking/libhost_versions.so"));
            foreach (var (export, expected) in bindings)
                Assert.True(expected == ((delegate* unmanaged<nint>)library.GetExport(export))(),
                    $"load {load + 1}: {export} returned 0x{((delegate* unmanaged<nint>)library.GetExport(export))():x}, dlvsym 0x{expected:x}");
        }
    }
}
