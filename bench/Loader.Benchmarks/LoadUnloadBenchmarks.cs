using BenchmarkDotNet.Attributes;

namespace Loader.Benchmarks;

/// <summary>
/// A whole load and unload: glibc's <c>dlopen(path, RTLD_NOW|RTLD_LOCAL)</c> + <c>dlclose</c> against Loader's
/// <c>new LoaderContext().Load(path)</c> + <c>Dispose</c> (map, resolve dependencies, relocate everything now, RELRO,
/// initializers; then finalizers and unmap). Both load a private copy of the library (see
/// <see cref="Libraries.PrivateCopy"/>), so neither can reuse an object the process already has. Their
/// dependencies (libc, libm) are the host's in both cases: glibc finds them loaded, Loader takes the host's copy.
/// </summary>
[MemoryDiagnoser]
public class LoadUnloadBenchmarks
{
    private string _copy = "";
    private unsafe byte* _nativePath;

    /// <summary>libz: small, 80 relocations, needs libc. libsqlite3: mid-size, 2963 relocations (most bound to symbols),
    /// needs libm and libc. libpfm: 41274 relocations (41222 R_X86_64_RELATIVE), needs libc. (libcrypto.so.3 would be
    /// the obvious large one, but it is DF_1_NODELETE: glibc's dlclose never unloads it, so every dlopen after the first
    /// is a refcount bump; the setup's check refuses such a library.) libcap-ng: a PT_TLS of its own (general dynamic), so
    /// Loader's load includes making and dlopen-ing its TLS carrier, and the unload its dlclose.</summary>
    [Params("libz.so.1", "libsqlite3.so.0", "libpfm.so.4", "libcap-ng.so.0")]
    public string Library { get; set; } = "";

    [GlobalSetup]
    public unsafe void Setup()
    {
        Console.WriteLine($"// {Library}: the system copy is {(Glibc.IsLoaded(Libraries.SystemPath(Library)) ? "" : "not ")}loaded in this process (the benchmark loads a private copy either way)");
        _copy = Libraries.PrivateCopy(Library, "load");
        _nativePath = Glibc.ToNativeUtf8(_copy);
        try
        {
            // Check both sides once: glibc really unloads on the last dlclose, and Loader loads the copy itself.
            GlibcLoadUnload();
            if (Glibc.IsLoaded(_copy))
                throw new InvalidOperationException($"{_copy}: still loaded after dlclose (DF_1_NODELETE?); dlopen would be a refcount bump");
            using var library = new LoaderContext().Load(_copy);
            if (library.IsHost)
                throw new InvalidOperationException($"{_copy}: Loader took the host's copy instead of loading it");
        }
        catch
        {
            Cleanup(); // BenchmarkDotNet does not run the cleanup after a failed setup
            throw;
        }
    }

    [GlobalCleanup]
    public unsafe void Cleanup()
    {
        Glibc.FreeNativeUtf8(_nativePath);
        _nativePath = null;
        Libraries.DeletePrivateCopy(_copy);
    }

    [Benchmark(Baseline = true, Description = "glibc dlopen+dlclose")]
    public unsafe void GlibcLoadUnload()
    {
        nint handle = Glibc.DlOpen(_nativePath, Glibc.RTLD_NOW | Glibc.RTLD_LOCAL);
        if (handle == 0)
            throw new InvalidOperationException($"dlopen {_copy}: {Glibc.DlError()}");
        Glibc.DlClose(handle);
    }

    [Benchmark(Description = "Loader Load+Dispose")]
    public nint LoaderLoadUnload()
    {
        using var library = new LoaderContext().Load(_copy);
        return library.BaseAddress;
    }
}
