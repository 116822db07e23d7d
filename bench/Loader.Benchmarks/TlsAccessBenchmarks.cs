using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace Loader.Benchmarks;

/// <summary>
/// What a general-dynamic TLS access costs the library's own code, by who serves its block: glibc (the library
/// loaded by glibc), Loader's own server (<see cref="LoadOptions.ServeDynamicTls"/>, the default), or a carrier glibc
/// loaded for Loader (<c>ServeDynamicTls = false</c>; the call then passes through Loader's <c>__tls_get_addr</c>
/// to glibc's when the server exists). One access is one call of <c>tls_bump</c> (through the PLT, one
/// <c>__tls_get_addr</c>) in <c>tls_bump_many</c> of tests/fixtures/build/tls/libtls_gd.so.
/// </summary>
public class TlsAccessBenchmarks
{
    private const int AccessesPerInvoke = 1000;
    private ElfLibrary? _loaded;
    private string _copy = "";
    private unsafe delegate* unmanaged<int, int> _loop;

    [Params("glibc", "loader-served", "loader-carried")]
    public string Server { get; set; } = "";

    [GlobalSetup]
    public unsafe void Setup()
    {
        string fixture = Fixtures.Path("tls/libtls_gd.so");
        if (Server == "glibc")
        {
            _copy = Path.Combine(Path.GetTempPath(), $"loader-bench-tls-{Environment.ProcessId}.so");
            File.Copy(fixture, _copy, overwrite: true);
            _loop = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(NativeLibrary.Load(_copy), "tls_bump_many");
        }
        else
        {
            _loaded = new LoaderContext().Load(fixture, new LoadOptions { ServeDynamicTls = Server == "loader-served" });
            _loop = (delegate* unmanaged<int, int>)_loaded.GetExport("tls_bump_many");
        }
        if (_loop(1) != 6)
            throw new InvalidOperationException("tls_bump_many did not start from the image's tls_counter = 5");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _loaded?.Dispose();
        if (_copy.Length > 0)
            File.Delete(_copy);
    }

    [Benchmark(OperationsPerInvoke = AccessesPerInvoke)]
    public unsafe int Access() => _loop(AccessesPerInvoke);
}
