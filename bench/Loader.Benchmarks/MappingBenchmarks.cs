using BenchmarkDotNet.Attributes;
using Loader.Mapping;

namespace Loader.Benchmarks;

/// <summary>
/// The mapping stage alone: <c>ElfImage.Map(path)</c> (open, read the headers through a read-only view of the file,
/// plan, reserve PROT_NONE, MAP_FIXED overlays, bss, RELRO) then <c>Dispose</c> (munmap). Nothing is relocated or run.
/// glibc has no public "map only", so there is no baseline; the load benchmarks compare the whole of dlopen.
/// </summary>
[MemoryDiagnoser]
public class MappingBenchmarks
{
    private string _path = "";

    /// <summary>The three libraries of <see cref="LoadUnloadBenchmarks"/> (so Load minus Map is the linking's share)
    /// and the largest library on the machine.</summary>
    public static IEnumerable<string> Libraries_() => ["libz.so.1", "libsqlite3.so.0", "libpfm.so.4", Libraries.Largest()];

    [ParamsSource(nameof(Libraries_))]
    public string Library { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _path = Libraries.SystemPath(Library);
        using var image = ElfImage.Map(_path);
        Console.WriteLine($"// {Library}: {image.Size} bytes reserved, {image.MappingSteps.Count} mapping steps");
    }

    [Benchmark(Description = "ElfImage.Map+Dispose")]
    public nint MapUnmap()
    {
        using var image = ElfImage.Map(_path);
        return image.BaseAddress;
    }
}
