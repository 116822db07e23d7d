using Loader.Linking;
using Loader.Tests.Native;
using Xunit.Abstractions;

namespace Loader.Tests.Linking;

/// <summary>
/// The relocator's per-symbol cache lives in native memory (<c>Native/ScratchArray</c>): loading a library with
/// 20,000 dynamic symbols allocates no more managed memory than one with 500 (the cache used to be a managed array of
/// 24 bytes a symbol, fresh for every library over 8,192 symbols), and once the load is over none of the cache's pages
/// are resident, while the next load on the thread, which reuses the mapping, still resolves every symbol afresh.
/// </summary>
public sealed unsafe class RelocatorCacheTests(ManySymbolLibraries libraries, ITestOutputHelper output) : IClassFixture<ManySymbolLibraries>
{
    [Fact]
    public void Loading_forty_times_more_symbols_allocates_no_more_managed_memory_per_symbol()
    {
        // Warm up both (JIT, static caches, this thread's relocator and its mapping, grown once), then measure each a few
        // times and keep its least: a load that finds the host's module list changed (another test class, in parallel,
        // dlopened or dlclosed something) reads it again and allocates that on top, once (seen in CI: 1,352 B more).
        LoadOnce(libraries.Small, ManySymbolLibraries.SmallCount);
        LoadOnce(libraries.Large, ManySymbolLibraries.LargeCount);
        long smallBytes = long.MaxValue, largeBytes = long.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            smallBytes = Math.Min(smallBytes, LoadOnce(libraries.Small, ManySymbolLibraries.SmallCount));
            largeBytes = Math.Min(largeBytes, LoadOnce(libraries.Large, ManySymbolLibraries.LargeCount));
        }

        long extra = largeBytes - smallBytes;
        const int ExtraSymbols = ManySymbolLibraries.LargeCount - ManySymbolLibraries.SmallCount;
        output.WriteLine($"{ManySymbolLibraries.SmallCount} symbols: {smallBytes} B allocated; {ManySymbolLibraries.LargeCount}: {largeBytes} B; difference {extra} B");
        // Far under a byte per extra symbol (19,500 of them): the managed cache cost 24 B each, 468,000 B here.
        Assert.True(extra < ExtraSymbols / 16,
            $"loading {ExtraSymbols} more symbols allocated {extra} more bytes ({smallBytes} B, {largeBytes} B)");
    }

    [Fact]
    public void After_a_large_load_the_cache_holds_no_resident_page_and_the_next_load_resolves_afresh()
    {
        using var large = new LoaderContext().Load(libraries.Large);
        Assert.Equal(ManySymbolLibraries.LargeCount, ((delegate* unmanaged<int>)large.GetExport("manysyms_check"))());

        Assert.True(Relocator.TryGetSpareCacheMapping(out nint address, out ulong length), "no relocator waits on this thread after a load");
        Assert.True(length >= ManySymbolLibraries.LargeCount * 16UL, $"the cache's mapping ({length} B) is smaller than the load needed");
        int resident = ResidentPages.Count(address, length);
        Assert.True(resident == 0, $"{resident} of the cache's {length / (ulong)Environment.SystemPageSize} pages are resident after the load");

        // The same thread's next loads reuse the mapping (cleared by madvise after the large load, by a memset after the
        // small one). Every library stays loaded, so an entry left over from a previous load would point to the other
        // library's variable (another seed) and not be counted.
        using var small = new LoaderContext().Load(libraries.Small);
        Assert.Equal(ManySymbolLibraries.SmallCount, ((delegate* unmanaged<int>)small.GetExport("manysyms_check"))());
        using var largeAgain = new LoaderContext().Load(libraries.Large);
        Assert.Equal(ManySymbolLibraries.LargeCount, ((delegate* unmanaged<int>)largeAgain.GetExport("manysyms_check"))());
        Assert.True(Relocator.TryGetSpareCacheMapping(out nint again, out _));
        Assert.Equal(address, again);
    }

    private static long LoadOnce(string path, int count)
    {
        var context = new LoaderContext();
        long before = GC.GetAllocatedBytesForCurrentThread();
        using var library = context.Load(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(count, ((delegate* unmanaged<int>)library.GetExport("manysyms_check"))());
        return allocated;
    }
}
