namespace Loader.Tests.Linking;

/// <summary>A lookup by name on a loaded library's handle allocates nothing (the name is encoded on the stack and the
/// library's local scope is computed once).</summary>
public sealed class ExportLookupAllocationTests
{
    [Fact]
    public void GetExportOfAnOrdinaryFunctionAllocatesNothing()
    {
        using var zlib = new LoaderContext().Load("/usr/lib/x86_64-linux-gnu/libz.so.1");
        nint expected = zlib.GetExport("deflate");
        Assert.Equal(expected, zlib.GetExport("deflate")); // warm
        Assert.True(zlib.TryGetExport("malloc", out _)); // through the dependency libc (the host's)

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            if (zlib.GetExport("deflate") != expected || !zlib.TryGetExport("malloc", out _))
                Assert.Fail("lookup changed");
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void GetExport_through_a_host_librarys_dependency_tree_allocates_nothing()
    {
        using var libstdcxx = new LoaderContext().Load("libstdc++.so.6");
        Assert.True(libstdcxx.TryGetExport("strlen", out nint expected)); // libc's, through libstdc++'s DT_NEEDED
        Assert.False(libstdcxx.TryGetExport("loader_defined_nowhere", out _)); // warm the miss too

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            if (libstdcxx.GetExport("strlen") != expected || libstdcxx.TryGetExport("loader_defined_nowhere", out _))
                Assert.Fail("lookup changed");
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
