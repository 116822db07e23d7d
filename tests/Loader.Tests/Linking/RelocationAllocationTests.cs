using Xunit.Abstractions;

namespace Loader.Tests.Linking;

/// <summary>
/// "The relocation loop allocates nothing per entry": two builds of one library, with 4,000 and 80,000
/// relocations, must cost the same managed allocation to load, give or take far less than a byte per extra
/// relocation. The difference cancels everything a load allocates once (reading, mapping, scope, bookkeeping).
/// </summary>
public sealed class RelocationAllocationTests(ITestOutputHelper output)
{
    [Fact]
    public void LoadingTwentyTimesMoreRelocationsAllocatesNoMorePerRelocation()
    {
        string small = Fixtures.Path("manyrelocs_small.so"), large = Fixtures.Path("manyrelocs_large.so");
        int smallCount = RelocationCount(small), largeCount = RelocationCount(large);
        Assert.Equal(76_000, largeCount - smallCount); // 2 x (40,000 - 2,000); the C runtime adds a few of its own

        // Warm up every code path once (JIT, static caches, the host modules), then measure.
        Measure(small, 4_000);
        Measure(large, 80_000);
        long smallBytes = Measure(small, 4_000), largeBytes = Measure(large, 80_000);

        long extra = largeBytes - smallBytes;
        output.WriteLine($"{smallCount} relocations: {smallBytes} B allocated; {largeCount}: {largeBytes} B; difference {extra} B");
        Assert.True(extra < largeCount - smallCount,
            $"loading {largeCount - smallCount} more relocations allocated {extra} more bytes " +
            $"({smallBytes} B for {smallCount}, {largeBytes} B for {largeCount})");
    }

    /// <summary>
    /// The same with relocations bound to IFUNCs (libc's strlen, memcpy…), which the relocator defers until every other
    /// relocation is applied: scripts/gen-scale-lib.sh's libraries of 2,000 and 40,000 relocations, half of the
    /// symbolic ones against libc functions.
    /// </summary>
    [Fact]
    public void Deferring_twenty_times_more_IFUNC_bound_relocations_allocates_no_more_per_relocation()
    {
        string directory = Directory.CreateTempSubdirectory("loader-scale-alloc-").FullName;
        try
        {
            string small = Generate(2_000, directory), large = Generate(40_000, directory);
            LoadOnce(small);
            LoadOnce(large);
            long smallBytes = LoadOnce(small), largeBytes = LoadOnce(large);
            long extra = largeBytes - smallBytes;
            output.WriteLine($"2000 relocations: {smallBytes} B allocated; 40000: {largeBytes} B; difference {extra} B");
            // Less than an eighth of a byte per extra relocation: a list of the deferred ones that doubles on the managed
            // heap cost about 0.8 B per relocation here (31,864 B more), which this bound refuses.
            Assert.True(extra < 38_000 / 8,
                $"loading 38000 more relocations (half of them bound to IFUNCs) allocated {extra} more bytes ({smallBytes} B, {largeBytes} B)");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Generate(int count, string directory)
    {
        var run = Oracles.ChildProcess.Run("bash", Path.Combine(Fixtures.RepositoryRoot, "scripts", "gen-scale-lib.sh"), count.ToString(System.Globalization.CultureInfo.InvariantCulture), directory);
        Assert.True(run.ExitCode == 0, $"gen-scale-lib.sh {count}: {run.Stdout}{run.Stderr}");
        return run.Stdout.Trim();
    }

    private static long LoadOnce(string path)
    {
        var context = new LoaderContext();
        long before = GC.GetAllocatedBytesForCurrentThread();
        using var library = context.Load(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.False(library.IsHost);
        return allocated;
    }

    private static long Measure(string path, int tableEntries)
    {
        var context = new LoaderContext();
        long before = GC.GetAllocatedBytesForCurrentThread();
        using var library = context.Load(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // The load really relocated everything: the library counts its correct entries itself.
        unsafe
        {
            var check = (delegate* unmanaged<int>)library.GetExport("manyrelocs_check");
            Assert.Equal(tableEntries, check());
        }
        return allocated;
    }

    private static int RelocationCount(string path)
    {
        using var elf = Loader.Elf.ElfFile.Open(path);
        return elf.RelocationTables.Where(t => t.Name == "DT_RELA").Sum(t =>
            Enumerable.Range(0, t.Count).Count(i => t[i].Type is 1 or 8));
    }
}
