using BenchmarkDotNet.Attributes;

namespace Loader.Benchmarks;

/// <summary>
/// A whole load and unload: glibc's <c>dlopen(path, RTLD_NOW|RTLD_LOCAL)</c> + <c>dlclose</c> against Loader's
/// <c>new LoaderContext().Load(path)</c> + <c>Dispose</c> (map, resolve dependencies, relocate everything now, RELRO,
/// initializers; then finalizers and unmap). Every iteration loads its own fresh copy of the library, made in the
/// iteration's setup (not timed), for both sides: a copy is a new inode, so neither side can reuse an object the
/// process already has — and glibc really loads <c>DF_1_NODELETE</c> libcrypto on every iteration instead of bumping
/// a reference count (its copies then stay loaded, as NODELETE says). BenchmarkDotNet runs one invocation per
/// iteration when there is an iteration setup, here in three processes a case (<see cref="LaunchesAttribute"/>).
/// Dependencies that are host runtime libraries (libc, libm) are the host's on both sides: glibc finds them loaded,
/// Loader takes the host's copy; others (libpython's libz and libexpat) are loaded by each side.
/// </summary>
[MemoryDiagnoser]
[Launches(3)]
public class LoadUnloadBenchmarks : FreshCopyLoadBenchmark
{
    /// <summary>libz: small, 80 relocations, needs libc. libsqlite3: mid-size, 2963 relocations (most bound to symbols),
    /// needs libm and libc. libpfm: 41274 relocations (41222 R_X86_64_RELATIVE). libcrypto.so.3: large, DF_1_NODELETE
    /// (a first load every iteration, thanks to the fresh copy). libpython3.11: large, needs libz and libexpat besides
    /// libc and libm. libcap-ng: a PT_TLS of its own (general dynamic), so Loader's load includes making and dlopen-ing
    /// its TLS carrier, and the unload its dlclose.</summary>
    [Params("libz.so.1", "libsqlite3.so.0", "libpfm.so.4", "libcrypto.so.3", "libpython3.11.so.1.0", "libcap-ng.so.0")]
    public string Library { get; set; } = "";

    protected override string SourcePath => Libraries.SystemPath(Library);

    [GlobalSetup]
    public void Setup()
    {
        Console.WriteLine($"// {Library}: the system copy is {(Glibc.IsLoaded(Libraries.SystemPath(Library)) ? "" : "not ")}loaded in this process (each iteration loads a fresh private copy either way)");
        // Put Loader's code where a long-running program has it (see CheckAndWarmUp).
        CheckAndWarmUp();
    }
}
