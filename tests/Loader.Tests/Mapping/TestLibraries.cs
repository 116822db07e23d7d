using Loader.Elf;
using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Mapping;

/// <summary>The shared objects the plan and placement tests run over.</summary>
public static class TestLibraries
{
    private const int SampleSize = 30;

    private static readonly Lazy<IReadOnlyList<string>> SystemSampleLazy = new(ChooseSystemSample);

    /// <summary>
    /// About 30 distinct shared objects from /usr/lib/x86_64-linux-gnu, chosen deterministically: the ELF files
    /// (symlinks resolved, duplicates dropped) sorted by path, every k-th, skipping those the plan refuses.
    /// </summary>
    public static IReadOnlyList<string> SystemSample => SystemSampleLazy.Value;

    /// <summary>The x86_64 fixtures the loader must map. All of them: one that was not built fails the test that
    /// opens it (scripts/build-fixtures.sh builds them with the test project), it is not left out.</summary>
    public static IEnumerable<string> LoadableFixtures => Fixtures.All.Where(f => f.IsLoadable).Select(f => f.Path);

    /// <summary>The system sample then the fixtures, as xunit theory data.</summary>
    public static TheoryData<string> All()
    {
        var data = new TheoryData<string>();
        foreach (var p in SystemSample.Concat(LoadableFixtures))
            data.Add(p);
        return data;
    }

    /// <summary>A small library to craft headers from: the basic fixture.</summary>
    public static string Basic => Fixtures.Path("basic.so");

    private static List<string> ChooseSystemSample()
    {
        // Oracles.SystemLibraries: the ET_DYN ELF files of the directory, realpath'd, deduplicated, sorted.
        var sorted = SystemLibraries.SharedObjects();
        int step = Math.Max(1, sorted.Count / SampleSize);
        var sample = new List<string>();
        for (int i = 0; i < sorted.Count && sample.Count < SampleSize; i += step)
        {
            // The first library at or after i that the plan accepts (PIE executables, for one, are refused).
            for (int j = i; j < Math.Min(sorted.Count, i + step); j++)
            {
                if (PlanAccepts(sorted[j]))
                {
                    sample.Add(sorted[j]);
                    break;
                }
            }
        }
        return sample;
    }

    /// <summary>The program headers as <c>readelf -lW</c> prints them (the Oracles parser).</summary>
    public static IReadOnlyList<ReadelfProgramHeader> ReadelfProgramHeaders(string path)
    {
        var run = Readelf.Run(path, "-lW");
        Assert.False(run.HasErrors, $"readelf -lW {path}: {run.Stderr}");
        return Readelf.Parse(run.Stdout).ProgramHeaders!.Headers;
    }

    /// <summary>The path as /proc/self/maps shows it (realpath).</summary>
    public static string RealPath(string path) => SystemLibraries.RealPath(path) ?? path;

    private static bool PlanAccepts(string path)
    {
        try
        {
            using var file = ElfFile.Open(path);
            LoadPlan.Create(file);
            return true;
        }
        catch (LoaderException)
        {
            return false;
        }
    }
}
