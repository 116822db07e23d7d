using Xunit.Abstractions;

namespace Loader.Tests.Linking;

/// <summary>
/// The managed memory one whole load and unload of libz allocates, after a warm-up (JIT, static caches, the host
/// module list): bounded, so that what was taken off the load path (the header reads' buffers, per-symbol arrays, the
/// plan's regions, step sentences, dictionaries) stays off. The target is 4 KB; what is left is listed in
/// docs/benchmarks.md.
/// </summary>
public sealed class LoadAllocationTests(ITestOutputHelper output)
{
    private const long Bound = 32 * 1024;

    [Fact]
    public void Loading_and_unloading_libz_allocates_less_than_the_bound()
    {
        string dir = Directory.CreateTempSubdirectory("loader-alloc-").FullName;
        try
        {
            string copy = Path.Combine(dir, "libz.so.1");
            File.Copy("/usr/lib/x86_64-linux-gnu/libz.so.1", copy);
            long allocated = 0;
            for (int round = 0; round < 4; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                using (var library = new LoaderContext().Load(copy))
                {
                    if (library.IsHost)
                        Assert.Fail("took the host's libz instead of loading the copy");
                }
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                output.WriteLine($"round {round}: {allocated} B");
            }
            Assert.True(allocated <= Bound, $"a load and unload of libz allocated {allocated} B, more than {Bound} B");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
