using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace Loader.Benchmarks;

/// <summary>
/// What registering images' <c>.eh_frame</c> with libgcc costs a C++ throw/catch: libgcc 12 takes a global mutex and
/// searches its registered objects in every frame lookup once anything was ever registered (the flag never clears),
/// before it falls back to <c>dl_iterate_phdr</c>. One throw/catch pair of <c>thrower_loop</c> in
/// tests/fixtures/build/cxx/libcxx_thrower.so (built by scripts/build-fixtures.sh), in a copy glibc loaded or in the
/// first of the copies Loader loaded (each in its own context, so each registered). BenchmarkDotNet runs each case in
/// its own process, so the "0 registered" case has never registered anything.
/// </summary>
public class UnwindBenchmarks
{
    private const int PairsPerInvoke = 100;
    private readonly List<ElfLibrary> _loaded = [];
    private string _copy = "";
    private unsafe delegate* unmanaged<int, int> _loop;

    /// <summary>"glibc/N" or "loader/N": whose copy throws, and how many Loader copies are registered.</summary>
    [Params("glibc/0", "glibc/1", "glibc/100", "loader/1", "loader/100")]
    public string Case { get; set; } = "";

    [GlobalSetup]
    public unsafe void Setup()
    {
        string fixture = Fixtures.Path("cxx/libcxx_thrower.so");
        string[] parts = Case.Split('/');
        int registered = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        for (int i = 0; i < registered; i++)
            _loaded.Add(new LoaderContext().Load(fixture));
        if (parts[0] == "loader")
        {
            _loop = (delegate* unmanaged<int, int>)_loaded[0].GetExport("thrower_loop");
        }
        else
        {
            // A private path: Loader would otherwise find the same file by device and inode only in its own
            // namespace, but glibc must load it for real, not share an object.
            _copy = Path.Combine(Path.GetTempPath(), $"loader-bench-unwind-{Environment.ProcessId}.so");
            File.Copy(fixture, _copy, overwrite: true);
            _loop = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(NativeLibrary.Load(_copy), "thrower_loop");
        }
        if (_loop(PairsPerInvoke) != PairsPerInvoke)
            throw new InvalidOperationException("thrower_loop caught fewer exceptions than it threw");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var library in _loaded)
            library.Dispose();
        if (_copy.Length > 0)
            File.Delete(_copy);
    }

    [Benchmark(OperationsPerInvoke = PairsPerInvoke)]
    public unsafe int ThrowCatch() => _loop(PairsPerInvoke);
}
