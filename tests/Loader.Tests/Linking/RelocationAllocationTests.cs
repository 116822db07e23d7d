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
