using Loader.Elf;
using Loader.Linking;
using Loader.Tests.Oracles;
using Xunit.Abstractions;

namespace Loader.Tests.Linking;

/// <summary>
/// The global scope's filter lets a relocation's lookup skip the host libraries that cannot define a name: all of them
/// (its Bloom filter) or those before the first that may (its first-candidate table). Both must be exact where a lookup
/// relies on them. The oracle is each host library's own DT_GNU_HASH: every name a library of the global scope hashes
/// — all of them, tens of thousands — must find its first candidate at or before that library, and the lookup over the
/// candidates must find the same module as the walk over the whole global scope, glibc's order.
/// </summary>
public sealed class GlobalScopeFilterTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_name_the_global_scope_hashes_starts_at_or_before_its_first_definer_and_binds_as_the_whole_walk()
    {
        using var context = new LoaderContext();
        using var libz = context.Load(SystemLibraries.Require("libz.so.1"));
        var scope = libz.LoadedModule.Scope!;
        Assert.False(scope.DeepBind);
        var global = scope.First.ToArray();
        Assert.Contains(global, m => m.Name == "libc.so.6");

        int names = 0, skipped = 0;
        for (int m = 0; m < global.Length; m++)
        {
            var tables = global[m].Tables!;
            var symbols = tables.Symbols!;
            int from = (int)tables.GnuHash!.SymbolOffset; // the hashed names: DT_GNU_HASH's chains start here
            for (int i = from; i < symbols.Count; i++)
            {
                var bytes = symbols.GetNameBytes(i);
                var name = new SymbolName(bytes);
                var candidates = scope.GlobalCandidates(name.GnuHash);
                int start = global.Length - candidates.Length;
                Assert.True(candidates.Length > 0 && start <= m,
                    $"{System.Text.Encoding.UTF8.GetString(bytes)} (hash 0x{name.GnuHash:x8}), hashed by {global[m].Name} (#{m}): the lookup starts at #{start} of {global.Length}");
                skipped += start;
                names++;
                if (symbols[i].IsUndefined)
                    continue;
                bool whole = SymbolLookup.FindFirst(global, name, default, out var viaAll);
                bool some = SymbolLookup.FindFirst(candidates, name, default, out var viaCandidates);
                Assert.Equal(whole, some);
                if (whole)
                {
                    Assert.Same(viaAll.Module, viaCandidates.Module);
                    Assert.Equal(viaAll.Index, viaCandidates.Index);
                }
            }
        }
        output.WriteLine($"{names} names hashed by the {global.Length} modules of the global scope; their lookups skip {skipped} modules in all");
        Assert.True(names > 5000, $"only {names} names: the global scope is not the host's runtime libraries");
        Assert.True(skipped > names, $"the first-candidate table skipped {skipped} modules for {names} names: it skips almost nothing");
    }

    /// <summary>
    /// With DeepBind the global part is searched second, without the host libraries the local part already has (a
    /// library that needs libc: libc is searched first, as a dependency): the filter's module indices are the whole global
    /// array's, so they must not cut that shorter part. Every name the global scope hashes — ld.so's among them, after
    /// libc — must bind through the candidates as through the whole second part.
    /// </summary>
    [Fact]
    public void With_deep_binding_the_candidates_find_what_the_global_part_without_the_local_modules_finds()
    {
        using var context = new LoaderContext();
        using var libz = context.Load(SystemLibraries.Require("libz.so.1"));
        var global = libz.LoadedModule.Scope!.First.ToArray();
        var libc = global.Single(m => m.Name == "libc.so.6");
        var deep = new LookupScope(global, [libz.LoadedModule, libc], deepBind: true, filterGlobal: true);
        Assert.DoesNotContain(libc, deep.Second.ToArray());
        Assert.Contains(deep.Second.ToArray(), m => m.Name == "ld-linux-x86-64.so.2");

        int compared = 0;
        foreach (var module in global)
        {
            var symbols = module.Tables!.Symbols!;
            for (int i = (int)module.Tables.GnuHash!.SymbolOffset; i < symbols.Count; i++)
            {
                if (symbols[i].IsUndefined)
                    continue;
                var name = new SymbolName(symbols.GetNameBytes(i));
                bool whole = SymbolLookup.FindFirst(deep.Second, name, default, out var viaAll);
                bool some = SymbolLookup.FindFirst(deep.GlobalCandidates(name.GnuHash), name, default, out var viaCandidates);
                Assert.True(whole == some && (!whole || (viaAll.Module == viaCandidates.Module && viaAll.Index == viaCandidates.Index)),
                    $"{symbols.GetName(i)}: the whole second part finds {(whole ? viaAll.Module.Name : "nothing")}, the candidates {(some ? viaCandidates.Module.Name : "nothing")}");
                compared++;
            }
        }
        Assert.True(compared > 5000, $"only {compared} names compared");
    }
}
