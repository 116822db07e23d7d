using BenchmarkDotNet.Attributes;

namespace Loader.Benchmarks;

/// <summary>
/// One exported-symbol lookup: glibc's <c>dlsym(handle, name)</c> against Loader's <c>ElfLibrary.GetExport(name)</c>.
/// Both search the handle's local scope: the library, then its dependencies breadth-first.
/// <list type="bullet">
/// <item><c>libz!deflate</c>: found in the library itself (a private copy of libz, one per loader).</item>
/// <item><c>libz!malloc</c>: not in libz; found in its dependency libc (for Loader, the host's libc read in place).</item>
/// <item><c>libc!malloc</c>: the handle is libc itself (Loader: <c>Load("libc.so.6")</c> gives the host's copy).</item>
/// </list>
/// glibc gets the name as a native UTF-8 string made once, so its figure has no marshalling; Loader's API takes a
/// .NET string and encodes it on every call, which is part of what it costs.
/// </summary>
[MemoryDiagnoser]
public class SymbolLookupBenchmarks
{
    private string? _glibcCopy, _loaderCopy;
    private nint _glibcHandle;
    private ElfLibrary? _library;
    private unsafe byte* _nativeName;
    private string _symbol = "";

    [Params("libz!deflate", "libz!malloc", "libc!malloc")]
    public string Case { get; set; } = "";

    [GlobalSetup]
    public unsafe void Setup()
    {
        string[] parts = Case.Split('!');
        _symbol = parts[1];
        _nativeName = Glibc.ToNativeUtf8(_symbol);
        if (parts[0] == "libz")
        {
            _glibcCopy = Libraries.PrivateCopy("libz.so.1", "dlsym");
            _loaderCopy = Libraries.PrivateCopy("libz.so.1", "getexport");
            _glibcHandle = Glibc.DlOpen(_glibcCopy, Glibc.RTLD_NOW | Glibc.RTLD_LOCAL);
            _library = new LoaderContext().Load(_loaderCopy);
        }
        else
        {
            _glibcHandle = Glibc.DlOpen("libc.so.6", Glibc.RTLD_NOW | Glibc.RTLD_LOCAL);
            _library = new LoaderContext().Load("libc.so.6");
        }
        if (_glibcHandle == 0)
            throw new InvalidOperationException($"dlopen: {Glibc.DlError()}");

        // Both must find something, and for a host symbol the same thing.
        nint glibc = GlibcDlsym(), ours = LoaderGetExport();
        if (glibc == 0 || ours == 0 || (parts[1] == "malloc" && glibc != ours))
            throw new InvalidOperationException($"{Case}: dlsym 0x{glibc:x}, GetExport 0x{ours:x}");
    }

    [GlobalCleanup]
    public unsafe void Cleanup()
    {
        _library?.Dispose();
        if (_glibcHandle != 0)
            Glibc.DlClose(_glibcHandle);
        Glibc.FreeNativeUtf8(_nativeName);
        _nativeName = null;
        Libraries.DeletePrivateCopy(_glibcCopy);
        Libraries.DeletePrivateCopy(_loaderCopy);
    }

    [Benchmark(Baseline = true, Description = "glibc dlsym")]
    public unsafe nint GlibcDlsym() => Glibc.DlSym(_glibcHandle, _nativeName);

    [Benchmark(Description = "Loader GetExport")]
    public nint LoaderGetExport() => _library!.GetExport(_symbol);
}
