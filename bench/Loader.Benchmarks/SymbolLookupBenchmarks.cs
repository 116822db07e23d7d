using BenchmarkDotNet.Attributes;

namespace Loader.Benchmarks;

/// <summary>
/// Exported-symbol lookups: glibc's <c>dlsym(handle, name)</c> against Loader's <c>ElfLibrary.GetExport(name)</c> (or
/// <c>TryGetExport</c> for a miss). Both search the handle's local scope: the library, then its dependencies
/// breadth-first. Each operation looks up one name; an invocation walks a list of eight different names, so a cache
/// of recent answers could not hide the search (Loader has none).
/// <list type="bullet">
/// <item><c>libz hit</c>: eight of libz's exports (a private copy of libz, one per loader).</item>
/// <item><c>libz→libc hit</c>: eight libc functions through libz's handle: not in libz, found in its dependency libc
/// (for Loader, the host's libc read in place).</item>
/// <item><c>libz miss</c>: eight names defined nowhere: libz and libc both searched.</item>
/// <item><c>libc hit</c>: the handle is libc itself (Loader: <c>Load("libc.so.6")</c> gives the host's copy).</item>
/// </list>
/// glibc is called through a function pointer (<c>delegate* unmanaged</c> to libc's <c>dlsym</c>) with each name already
/// a NUL-terminated UTF-8 string in native memory, so its figure has no marshalling at all; Loader's API takes a .NET
/// string, and whatever it does with it is part of what it costs.
/// </summary>
[MemoryDiagnoser]
public class SymbolLookupBenchmarks
{
    private const int Names = 8;
    private static readonly string[] ZlibExports = ["deflate", "inflate", "crc32", "adler32", "compress", "uncompress", "deflateEnd", "inflateEnd"];
    // None of these is an IFUNC: the lookup is measured, not a resolver's cached result.
    private static readonly string[] LibcExports = ["malloc", "free", "calloc", "realloc", "qsort", "getenv", "fopen", "fclose"];
    private static readonly string[] Missing = ["loader_missing_a", "deflate_nowhere", "crc33", "mallocx", "zz_absent", "inflate2", "no_such_name_here", "q"];

    private string? _glibcCopy, _loaderCopy;
    private nint _glibcHandle;
    private ElfLibrary? _library;
    private unsafe byte*[] _nativeNames = [];
    private unsafe delegate* unmanaged<nint, byte*, nint> _dlsym;
    private string[] _names = [];

    [Params("libz hit", "libz→libc hit", "libz miss", "libc hit")]
    public string Case { get; set; } = "";

    [GlobalSetup]
    public unsafe void Setup()
    {
        _names = Case switch
        {
            "libz hit" => ZlibExports,
            "libz→libc hit" or "libc hit" => LibcExports,
            _ => Missing,
        };
        _nativeNames = new byte*[Names];
        for (int i = 0; i < Names; i++)
            _nativeNames[i] = Glibc.ToNativeUtf8(_names[i]);
        _dlsym = (delegate* unmanaged<nint, byte*, nint>)System.Runtime.InteropServices.NativeLibrary.GetExport(
            System.Runtime.InteropServices.NativeLibrary.Load("libc.so.6"), "dlsym");
        if (Case.StartsWith("libz", StringComparison.Ordinal))
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

        // Both must agree on every name: found or not, and for a libc symbol the same address.
        for (int i = 0; i < Names; i++)
        {
            nint glibc = _dlsym(_glibcHandle, _nativeNames[i]);
            _library.TryGetExport(_names[i], out nint ours);
            bool agree = Case switch
            {
                "libz miss" => glibc == 0 && ours == 0,
                "libz hit" => glibc != 0 && ours != 0,
                _ => glibc != 0 && glibc == ours,
            };
            if (!agree)
                throw new InvalidOperationException($"{Case} {_names[i]}: dlsym 0x{glibc:x}, GetExport 0x{ours:x}");
        }
    }

    [GlobalCleanup]
    public unsafe void Cleanup()
    {
        _library?.Dispose();
        if (_glibcHandle != 0)
            Glibc.DlClose(_glibcHandle);
        foreach (var name in _nativeNames)
            Glibc.FreeNativeUtf8(name);
        _nativeNames = [];
        Libraries.DeletePrivateCopy(_glibcCopy);
        Libraries.DeletePrivateCopy(_loaderCopy);
    }

    [Benchmark(Baseline = true, Description = "glibc dlsym", OperationsPerInvoke = Names)]
    public unsafe nint GlibcDlsym()
    {
        nint sum = 0;
        var names = _nativeNames;
        for (int i = 0; i < names.Length; i++)
            sum += _dlsym(_glibcHandle, names[i]);
        return sum;
    }

    [Benchmark(Description = "Loader GetExport", OperationsPerInvoke = Names)]
    public nint LoaderGetExport()
    {
        nint sum = 0;
        var names = _names;
        var library = _library!;
        for (int i = 0; i < names.Length; i++)
        {
            library.TryGetExport(names[i], out nint address);
            sum += address;
        }
        return sum;
    }
}
