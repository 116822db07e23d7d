using Loader.Elf;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// A handle keeps its recent <c>GetExport</c> answers (<c>Linking/ExportCache</c>): what it answers from the cache
/// must be what the search answers, for every name, when names share a slot and push each other out, and under
/// concurrent lookups. The oracle is glibc's <c>dlsym</c> on its own load of the same file, offset by the two bases.
/// </summary>
public sealed class ExportCacheTests
{
    [Fact]
    public void Every_export_answers_the_same_from_the_cache_as_glibc_dlsym_does_even_when_names_collide()
    {
        string path = "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0";
        var names = DefinedFunctions(path);
        Assert.True(names.Count > 200, $"only {names.Count} functions: not enough to fill every slot several times");
        using var ours = new LoaderContext().Load(path);
        nint theirs = Glibc.Open(path);
        try
        {
            nint ourBase = ours.BaseAddress, theirBase = Glibc.LoadBias(theirs);
            // Each name twice in a row (the second answer comes from the cache), and the whole list three times (more
            // names than slots: each round finds its slot taken by another name, and searches again).
            for (int round = 0; round < 3; round++)
            {
                foreach (string name in names)
                {
                    nint expected = Glibc.Symbol(theirs, name) - theirBase;
                    for (int repeat = 0; repeat < 2; repeat++)
                    {
                        Assert.True(ours.TryGetExport(name, out nint address), $"round {round}: {name} not found");
                        Assert.Equal(expected, address - ourBase);
                    }
                }
            }
        }
        finally
        {
            Glibc.Close(theirs);
        }
    }

    [Fact]
    public void Concurrent_lookups_of_colliding_names_never_answer_for_another_name()
    {
        string path = "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0";
        // Fewer names than slots, so most answers come from the cache; some still share a slot and push each other out.
        var names = DefinedFunctions(path)[..40];
        using var fresh = new LoaderContext().Load(path);
        var expected = names.ToDictionary(n => n, n => fresh.GetExport(n));
        using var shared = new LoaderContext().Load(path);
        nint offset = shared.BaseAddress - fresh.BaseAddress;
        int wrong = 0;
        Parallel.For(0, 8, worker =>
        {
            for (int round = 0; round < 20; round++)
                for (int i = worker; i < names.Count; i += 3)
                    if (shared.GetExport(names[i]) - offset != expected[names[i]])
                        Interlocked.Increment(ref wrong);
        });
        Assert.Equal(0, wrong);
    }

    /// <summary>The defined, global, default-visibility functions of <paramref name="path"/>'s .dynsym.</summary>
    private static List<string> DefinedFunctions(string path)
    {
        using var file = ElfFile.Open(path);
        var symbols = file.DynamicSymbols!;
        var names = new List<string>();
        for (int i = 1; i < symbols.Count; i++)
        {
            var symbol = symbols[i];
            if (!symbol.IsUndefined && symbol.Type == SymbolType.Func && symbol.Binding == SymbolBinding.Global
                && symbol.Visibility == SymbolVisibility.Default)
                names.Add(symbols.GetName(i));
        }
        return names;
    }
}
