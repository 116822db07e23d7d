using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// The relocator remembers which module defined each symbol as a slot in a short per-load list of definers; the TLS
/// relocations (the defining module's block) and the IFUNC-bound ones (the resolver must lie in the definer's code)
/// read it back after the first pass. Here one library takes TLS variables and IFUNCs from two dependencies, whose
/// references alternate, built with gcc in a temporary directory:
/// <code>
/// libdefa.so   __thread tls_a1 = 11, tls_a2 = 12; IFUNC pick_a (resolves to a function returning 100)
/// libdefb.so   __thread tls_b1 = 21, tls_b2 = 22; IFUNC pick_b (200)
/// libdefuser_gd.so, libdefuser_desc.so   need both (DT_RUNPATH $ORIGIN); general dynamic and TLSDESC
/// </code>
/// Each variable is at the same offset in its block as its twin in the other library, so a relocation given the wrong
/// definer reads the twin (21 for 11); an IFUNC given the wrong definer is refused (its resolver is not in that
/// module's code).
/// </summary>
public sealed unsafe class DefinerSlotTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("loader-definers-").FullName;

    public DefinerSlotTests()
    {
        Gcc("libdefa.so", Definer("a", 11, 12, 100));
        Gcc("libdefb.so", Definer("b", 21, 22, 200));
        const string user = """
            extern __thread int tls_a1, tls_a2, tls_b1, tls_b2;
            extern int pick_a(void), pick_b(void);
            int (*user_picks[4])(void) = { pick_a, pick_b, pick_b, pick_a };
            int user_a1(void) { return tls_a1; }
            int user_b1(void) { return tls_b1; }
            int user_a2(void) { return tls_a2; }
            int user_b2(void) { return tls_b2; }
            int user_pick_a(void) { return pick_a(); }
            int user_pick_b(void) { return pick_b(); }
            int user_picked(int i) { return user_picks[i](); }
            """;
        string[] links = ["-L" + _root, "-ldefa", "-ldefb", "-Wl,--enable-new-dtags,-rpath,$ORIGIN"];
        Gcc("libdefuser_gd.so", user, ["-ftls-model=global-dynamic", .. links]);
        Gcc("libdefuser_desc.so", user, ["-mtls-dialect=gnu2", .. links]);
    }

    [Theory]
    [InlineData("libdefuser_gd.so")]
    [InlineData("libdefuser_desc.so")]
    public void Each_TLS_and_IFUNC_reference_binds_to_the_dependency_that_defines_it(string name)
    {
        using var context = new LoaderContext();
        using var library = context.Load(Path.Join(_root, name));
        Assert.Equal(["libdefa.so", "libdefb.so"], library.Dependencies.Select(d => d.Needed).Where(n => n.StartsWith("libdef", StringComparison.Ordinal)));

        Assert.Equal(11, Call("user_a1"));
        Assert.Equal(21, Call("user_b1"));
        Assert.Equal(12, Call("user_a2"));
        Assert.Equal(22, Call("user_b2"));
        Assert.Equal(100, Call("user_pick_a"));
        Assert.Equal(200, Call("user_pick_b"));
        var picked = (delegate* unmanaged<int, int>)library.GetExport("user_picked");
        Assert.Equal([100, 200, 200, 100], Enumerable.Range(0, 4).Select(i => picked(i)));

        int Call(string export) => ((delegate* unmanaged<int>)library.GetExport(export))();
    }

    private static string Definer(string which, int first, int second, int picked) => $$"""
        __thread int tls_{{which}}1 = {{first}};
        __thread int tls_{{which}}2 = {{second}};
        static int picked_{{which}}(void) { return {{picked}}; }
        static int (*resolve_{{which}}(void))(void) { return picked_{{which}}; }
        int pick_{{which}}(void) __attribute__((ifunc("resolve_{{which}}")));
        """;

    private void Gcc(string output, string source, params string[] extra)
    {
        string sourcePath = Path.Join(_root, output + ".c");
        File.WriteAllText(sourcePath, source);
        var (code, _, err) = ChildProcess.Run("gcc", ["-shared", "-fPIC", "-O1", "-Wl,--no-as-needed", "-Wl,-soname," + output, "-o", Path.Join(_root, output), sourcePath, .. extra]);
        Assert.True(code == 0, $"gcc {output}: {err}");
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
