using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Loader.Linking;

namespace Loader.Tests.Linking;

/// <summary>basic.so and its link-flag variants, loaded by Loader and called from C#: ints, doubles, strings, a
/// callback into C#, exported data changed from both sides, a variadic libc call.</summary>
public sealed unsafe class CallingExportsTests
{
    public static TheoryData<string> BasicVariants() => new()
    {
        "basic.so", "hash_sysv.so", "hash_gnu.so", "hash_both.so", "gold.so", "maxpage_2m.so", "noseparate_code.so",
        "norelro.so", "no_section_headers.so",
    };

    [Theory]
    [MemberData(nameof(BasicVariants))]
    public void IntsDoublesAndStrings(string fixture)
    {
        using var lib = new LoaderContext().Load(Fixtures.Path(fixture));
        Assert.False(lib.IsHost);
        var add = (delegate* unmanaged<int, int, int>)lib.GetExport("add");
        var scale = (delegate* unmanaged<double, double, double>)lib.GetExport("scale");
        var greeting = (delegate* unmanaged<nint>)lib.GetExport("greeting");
        var colorAt = (delegate* unmanaged<int, nint>)lib.GetExport("color_at");
        Assert.Equal(5, add(2, 3));
        Assert.Equal(-1, add(int.MaxValue, int.MinValue));
        Assert.Equal(1.25, scale(2.5, 0.5));
        Assert.Equal("Hello, Loader!", Native.String(greeting()));
        Assert.Equal("green", Native.String(colorAt(1))); // a pointer table in .data.rel.ro: RELATIVE relocations, then RELRO
        Assert.Equal(0, colorAt(3));
    }

    [UnmanagedCallersOnly]
    private static int TimesSeven(int x) => x * 7;

    [Fact]
    public void ACallbackIntoCSharp()
    {
        using var lib = new LoaderContext().Load(Fixtures.Path("basic.so"));
        var apply = (delegate* unmanaged<delegate* unmanaged<int, int>, int, int>)lib.GetExport("apply");
        Assert.Equal(42, apply(&TimesSeven, 6));
    }

    [Fact]
    public void ExportedDataChangedFromBothSides()
    {
        using var lib = new LoaderContext().Load(Fixtures.Path("basic.so"));
        var counter = (int*)lib.GetExport("counter");
        var increment = (delegate* unmanaged<int>)lib.GetExport("increment");
        var setCounter = (delegate* unmanaged<int, void>)lib.GetExport("set_counter");
        var getCounter = (delegate* unmanaged<int>)lib.GetExport("get_counter");
        Assert.Equal(42, *counter);
        Assert.Equal(43, increment());
        Assert.Equal(43, *counter);
        *counter = 1000;                       // C# writes, C reads
        Assert.Equal(1000, getCounter());
        setCounter(-5);                        // C writes, C# reads
        Assert.Equal(-5, *counter);
        Assert.Equal(0.5, *(double*)lib.GetExport("ratio"));
        Assert.Equal("hello from basic", Native.String(lib.GetExport("message")));
    }

    [Fact]
    public void AVariadicFunctionCallsLibcThroughThePlt()
    {
        using var lib = new LoaderContext().Load(Fixtures.Path("basic.so"));
        var buffer = stackalloc byte[64];
        nint format = Native.CString("%s=%d");
        nint text = Native.CString("x");
        try
        {
            // format_to(buf, n, fmt, ...) -> vsnprintf in the host's libc. Variadic on x86_64: al = number of vector
            // registers used (0 here); a non-variadic pointer type passes the same registers.
            var formatTo = (delegate* unmanaged<byte*, nuint, nint, nint, int, int>)lib.GetExport("format_to");
            int written = formatTo(buffer, 64, format, text, 17);
            Assert.Equal(4, written);
            Assert.Equal("x=17", Native.String((nint)buffer));
        }
        finally
        {
            Native.Free(format);
            Native.Free(text);
        }
        var vsnprintf = Assert.Single(lib.Relocations, r => r.Symbol == "vsnprintf");
        Assert.True(vsnprintf.DefinedBy!.IsHost);
        Assert.Equal("libc.so.6", vsnprintf.DefinedBy.SoName);
        Assert.Equal("GLIBC_2.2.5", vsnprintf.Version);
    }

    [Fact]
    public void HiddenAndStaticFunctionsAreNotExported()
    {
        using var lib = new LoaderContext().Load(Fixtures.Path("basic.so"));
        Assert.False(lib.TryGetExport("hidden_helper", out _));
        Assert.False(lib.TryGetExport("internal_only", out _));
        var e = Assert.Throws<SymbolNotFoundException>(() => lib.GetExport("hidden_helper"));
        Assert.Contains("hidden_helper", e.Message, StringComparison.Ordinal);
        Assert.Equal(2 * 3 + 1, ((delegate* unmanaged<int, int>)lib.GetExport("use_hidden"))(2));
    }

    [Fact]
    public void GetFunctionGivesADelegate()
    {
        using var lib = new LoaderContext().Load(Fixtures.Path("basic.so"));
        var add = lib.GetFunction<AddFunction>("add");
        Assert.Equal(12, add(5, 7));
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int AddFunction(int a, int b);

    [Fact]
    public void TheLibraryIsOursAndItsScopeIsTheHostRuntimeThenItself()
    {
        using var lib = new LoaderContext().Load(Fixtures.Path("basic.so"));
        Assert.Equal(ModuleOrigin.Loaded, lib.Module.Origin);
        Assert.Equal(lib.BaseAddress, lib.Module.BaseAddress);
        var scope = lib.Scope;
        Assert.Equal(lib.Path, scope[^1].Path);
        Assert.All(scope.SkipLast(1), m => Assert.True(m.IsHost));
        Assert.Contains(scope, m => m.SoName == "libc.so.6");
        var libc = Assert.Single(lib.Dependencies);
        Assert.Equal(DependencySource.Host, libc.Source);
        Assert.Equal("libc.so.6", libc.Needed);
        Assert.True(lib.Relocations.Count > 0);
        Assert.All(lib.Relocations.Where(r => r.Symbol is null), r => Assert.Equal(lib.Path, r.DefinedBy!.Path));
        _ = RuntimeHelpers.GetHashCode(lib);
    }
}
