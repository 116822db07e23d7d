using Loader.Linking;

namespace Loader.Tests.Linking;

/// <summary>DT_NEEDED trees: found through RUNPATH $ORIGIN, loaded once per context and reference-counted,
/// breadth-first lookup order (interposition), versions both ways, weak references, host libraries.</summary>
public sealed unsafe class DependencyTests
{
    [Fact]
    public void AChainOfThreeIsFoundThroughRunpathOrigin()
    {
        var context = new LoaderContext();
        using var a = context.Load(Fixtures.Path("chain/libchain_a.so"), new LoadOptions { LdLibraryPath = "" });
        Assert.Equal(321, ((delegate* unmanaged<int>)a.GetExport("chain_a_value"))());
        Assert.Equal("b", Native.String(((delegate* unmanaged<nint>)a.GetExport("chain_a_next_name"))()));

        var deps = a.Dependencies.Where(d => d.Source != DependencySource.Host).ToList();
        Assert.Equal(["libchain_b.so", "libchain_c.so"], deps.Select(d => d.Needed));
        Assert.Equal(Fixtures.Path("chain/lib/libchain_b.so"), deps[0].Module.Path);
        Assert.Equal(Fixtures.Path("chain/lib/deep/libchain_c.so"), deps[1].Module.Path);
        Assert.StartsWith("DT_RUNPATH", deps[0].FoundVia, StringComparison.Ordinal);
        Assert.StartsWith("DT_RUNPATH", deps[1].FoundVia, StringComparison.Ordinal);
        Assert.Equal([1, 2], deps.Select(d => d.Depth));
        Assert.Equal(DependencySource.Loaded, deps[0].Source);
        // The local scope is breadth-first: a, then b, then c (after the host's runtime libraries).
        Assert.Equal(["libchain_a.so", "libchain_b.so", "libchain_c.so"], a.Scope.Where(m => !m.IsHost).Select(m => m.Name));
        // dlsym semantics: GetExport searches the library, then its dependencies.
        Assert.Equal(3, ((delegate* unmanaged<int>)a.GetExport("chain_c_value"))());
        Assert.Equal(1, *(int*)a.GetExport("chain_c_loads")); // its constructor ran once
        Assert.Equal(3, context.LoadedLibraries.Count);
    }

    [Fact]
    public void ADependencyIsLoadedOncePerContextAndReferenceCounted()
    {
        var context = new LoaderContext();
        var a = context.Load(Fixtures.Path("chain/libchain_a.so"));
        var c = context.Load(Fixtures.Path("chain/lib/deep/libchain_c.so"));
        var b = context.Load(Fixtures.Path("chain/lib/libchain_b.so"));
        Assert.Equal(3, context.LoadedLibraries.Count);
        Assert.Equal(1, *(int*)c.GetExport("chain_c_loads"));
        Assert.Equal(c.BaseAddress, a.Dependencies.Single(d => d.Needed == "libchain_c.so").Module.BaseAddress);
        var counts = context.LoadedLibraries.ToDictionary(l => l.Module.Name, l => l.ReferenceCount);
        Assert.Equal(1, counts["libchain_a.so"]);
        Assert.Equal(2, counts["libchain_b.so"]); // a's DT_NEEDED + the handle
        Assert.Equal(2, counts["libchain_c.so"]); // b's DT_NEEDED + the handle

        using (var again = context.Load(Fixtures.Path("chain/libchain_a.so")))
            Assert.Equal(a.BaseAddress, again.BaseAddress); // same image, one more reference
        a.Dispose();
        Assert.Equal(2, context.LoadedLibraries.Count); // b and c are still needed
        c.Dispose();
        Assert.Equal(2, context.LoadedLibraries.Count); // c is still needed by b
        b.Dispose();
        Assert.Empty(context.LoadedLibraries);
    }

    [Fact]
    public void InterpositionTheFirstDependencyInBreadthFirstOrderWins()
    {
        using var user = new LoaderContext().Load(Fixtures.Path("linking/libinterpose_user.so"));
        Assert.Equal("first", Native.String(((delegate* unmanaged<nint>)user.GetExport("which_name"))()));
        Assert.Equal(1, ((delegate* unmanaged<int>)user.GetExport("which_value"))());
        Assert.Equal("only in second", Native.String(((delegate* unmanaged<nint>)user.GetExport("call_second_only"))()));
        Assert.Equal("user", Native.String(((delegate* unmanaged<nint>)user.GetExport("call_user_own"))()));

        var explained = user.Explain("interposed_name");
        Assert.Equal("libinterpose_first.so", explained.Provider!.Module.Name);
        Assert.Equal(2, explained.Scope.Count(p => p.Defines));
        var order = explained.Scope.Select(p => p.Module.Name).ToList();
        Assert.True(order.IndexOf("libinterpose_first.so") < order.IndexOf("libinterpose_second.so"));
        Assert.All(explained.Scope.TakeWhile(p => p.Part == ScopePart.Global), p => Assert.True(p.Module.IsHost));
        Assert.Equal(user.GetExport("interposed_name"), explained.Address);

        var binding = Assert.Single(user.Relocations, r => r.Symbol == "interposed_value");
        Assert.Equal("libinterpose_first.so", binding.DefinedBy!.Name);
    }

    [Fact]
    public void DeepBindSearchesTheLocalScopeFirst()
    {
        using var user = new LoaderContext().Load(Fixtures.Path("linking/libinterpose_user.so"), new LoadOptions { DeepBind = true });
        Assert.Equal("libinterpose_user.so", user.Scope[0].Name);
        Assert.True(user.Scope[^1].IsHost);
        Assert.Equal("first", Native.String(((delegate* unmanaged<nint>)user.GetExport("which_name"))()));
    }

    [Fact]
    public void TwoVersionsOfOneSymbol()
    {
        using var user = new LoaderContext().Load(Fixtures.Path("linking/libversioned_user.so"));
        Assert.Equal(20, ((delegate* unmanaged<int, int>)user.GetExport("call_compute_default"))(10)); // compute@@VERS_2
        Assert.Equal(11, ((delegate* unmanaged<int, int>)user.GetExport("call_compute_v1"))(10));      // compute@VERS_1
        var versioned = Assert.Single(user.Dependencies, d => d.Needed == "versioned.so");
        Assert.Equal(Fixtures.Path("versioned.so"), Path.GetFullPath(versioned.Module.Path)); // glibc keeps ".." too

        using var lib = new LoaderContext().Load(Fixtures.Path("versioned.so"));
        Assert.Equal(20, ((delegate* unmanaged<int, int>)lib.GetExport("compute"))(10));           // dlsym: the default
        Assert.Equal(11, ((delegate* unmanaged<int, int>)lib.GetExport("compute", "VERS_1"))(10)); // dlvsym
        Assert.Equal(20, ((delegate* unmanaged<int, int>)lib.GetExport("compute", "VERS_2"))(10));
        Assert.False(lib.TryGetExport("compute", "VERS_3", out _));
        Assert.False(lib.TryGetExport("unlisted_function", out _)); // local: * in the version script
        Assert.Equal(7, *(int*)lib.GetExport("versioned_data"));
        Assert.Equal("VERS_2", lib.Explain("compute", "VERS_2").Provider!.Version.Name);
    }

    [Fact]
    public void WeakReferencesAndAWeakDefinition()
    {
        using var weak = new LoaderContext().Load(Fixtures.Path("linking/libweak.so"));
        Assert.Equal(0, ((delegate* unmanaged<int>)weak.GetExport("has_weak_absent"))());
        Assert.Equal(0, ((delegate* unmanaged<int>)weak.GetExport("has_weak_absent_data"))());
        Assert.Equal(1, ((delegate* unmanaged<int>)weak.GetExport("has_weak_present"))());
        Assert.Equal(99, ((delegate* unmanaged<int>)weak.GetExport("call_weak_present"))());
        Assert.Equal("weak", Native.String(((delegate* unmanaged<nint>)weak.GetExport("call_weak_defined"))()));
        Assert.Contains(weak.Relocations, r => r.Symbol == "weak_absent" && r.DefinedBy is null && r.Value == 0);
    }

    [Fact]
    public void AHostLibraryDependencyIsTheHostsCopy()
    {
        using var user = new LoaderContext().Load(Fixtures.Path("linking/libmath_user.so"));
        Assert.Equal(Math.Cos(1.0), ((delegate* unmanaged<double, double>)user.GetExport("use_cos"))(1.0));
        Assert.Equal(5.0, ((delegate* unmanaged<double, double, double>)user.GetExport("use_hypot"))(3.0, 4.0));
        var libm = Assert.Single(user.Dependencies, d => d.Needed == "libm.so.6");
        Assert.Equal(DependencySource.Host, libm.Source);
        Assert.Equal("host", libm.FoundVia);
        Assert.Equal(libm.Module.BaseAddress, Assert.Single(user.Relocations, r => r.Symbol == "cos").DefinedBy!.BaseAddress);
    }

    [Fact]
    public void AFileGivenToLoadThatIsAHostLibraryResolvesToTheHostsCopy()
    {
        var context = new LoaderContext();
        using var libm = context.Load("/usr/lib/x86_64-linux-gnu/libm.so.6");
        Assert.True(libm.IsHost);
        Assert.Null(libm.Plan);
        Assert.Empty(context.LoadedLibraries);
        Assert.Equal(Math.Cos(1.0), ((delegate* unmanaged<double, double>)libm.GetExport("cos"))(1.0));
        var host = HostModules.Get("libm.so.6", out _)!;
        Assert.Equal(host.Base, libm.BaseAddress);
    }

    [Fact]
    public void HostLibrariesAreTakenFromTheHostAndJoinTheGlobalScope()
    {
        var options = new LoadOptions { HostLibraries = ["libz.so.1"] };
        var context = new LoaderContext();
        using var zlib = context.Load("/usr/lib/x86_64-linux-gnu/libz.so.1", options);
        Assert.True(zlib.IsHost);
        Assert.Empty(context.LoadedLibraries);
        Assert.Contains(context.GetGlobalScope(options), m => m.SoName == "libz.so.1");
        Assert.DoesNotContain(context.GetGlobalScope(), m => m.SoName == "libz.so.1"); // only when asked for
        Assert.Equal("1.2.13", Native.String(((delegate* unmanaged<nint>)zlib.GetExport("zlibVersion"))()));
    }

    [Fact]
    public void AMissingDependencyListsEveryPlaceItLooked()
    {
        string dir = Directory.CreateTempSubdirectory("loader-missing-").FullName;
        try
        {
            // libchain_b.so alone: its RUNPATH $ORIGIN/deep does not exist next to the copy.
            string copy = Path.Combine(dir, "libchain_b.so");
            File.Copy(Fixtures.Path("chain/lib/libchain_b.so"), copy);
            var context = new LoaderContext();
            var e = Assert.Throws<LibraryNotFoundException>(() => context.Load(copy, new LoadOptions { LdLibraryPath = "" }));
            Assert.Equal("libchain_c.so", e.Name);
            Assert.Contains(e.Attempts, a => a.Path == Path.Combine(dir, "deep", "libchain_c.so"));
            Assert.Contains(e.Attempts, a => a.Source.Contains("cache", StringComparison.Ordinal) || a.Source.Contains("default", StringComparison.Ordinal));
            Assert.Contains(Path.Combine(dir, "deep", "libchain_c.so"), e.Message, StringComparison.Ordinal);
            Assert.Empty(context.LoadedLibraries);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TwoContextsHoldIndependentCopies()
    {
        using var one = new LoaderContext().Load(Fixtures.Path("basic.so"));
        using var two = new LoaderContext().Load(Fixtures.Path("basic.so"));
        Assert.NotEqual(one.BaseAddress, two.BaseAddress);
        var setOne = (delegate* unmanaged<int, void>)one.GetExport("set_counter");
        setOne(7);
        Assert.Equal(7, *(int*)one.GetExport("counter"));
        Assert.Equal(42, *(int*)two.GetExport("counter"));
        Assert.Equal(43, ((delegate* unmanaged<int>)two.GetExport("increment"))());
        Assert.Equal(7, ((delegate* unmanaged<int>)one.GetExport("get_counter"))());
    }

    [Fact]
    public void TheDefaultContextReturnsTheSameImageForTheSameFile()
    {
        using var one = ElfLibrary.Load(Fixtures.Path("bigbss.so"));
        using var two = ElfLibrary.Load(Fixtures.Path("bigbss.so"));
        Assert.Same(LoaderContext.Default, one.Context);
        Assert.Equal(one.BaseAddress, two.BaseAddress);
        Assert.Equal(2, LoaderContext.Default.LoadedLibraries.Single(l => l.Module.Name == "bigbss.so").ReferenceCount);
        Assert.Equal(381, ((delegate* unmanaged<int>)one.GetExport("prime_sum"))());
        Assert.Equal(32.0, ((delegate* unmanaged<double>)one.GetExport("weight_sum"))());
        Assert.Equal(0u, (uint)((delegate* unmanaged<nuint>)one.GetExport("big_nonzero_count"))());
    }
}
