using Xunit.Abstractions;

namespace Loader.Tests.Linking;

/// <summary>
/// The managed memory one whole load and unload of libz allocates, after a warm-up (JIT, static caches, the host
/// modules and the global scope the process shares): bounded, so that what was taken off the load path (the header
/// reads' buffers, per-symbol arrays, copies of the program headers and the dynamic section, version names, step
/// sentences, dictionaries, the library search when nothing is searched for) stays off. Measured both in a context
/// that is reused and with a new context each time, whose own cost (its lock, its module list) must stay small.
/// The target is 4 KB for the load, met; what is left is listed in docs/benchmarks.md ("What is left"). That the
/// allocation does not grow with the relocations is <see cref="RelocationAllocationTests"/>'s check.
/// </summary>
public sealed class LoadAllocationTests(ITestOutputHelper output)
{
    /// <summary>A load and unload of libz in a warmed context: issue 11's target is 4 KB; 1,568 B measured (from 21.5
    /// KB, then 7.0, 4.8, 3.9, 2.5, 2.3 and 1.7 KB, the last before the writable ranges and the DT_NEEDED names stopped
    /// being kept: issue 14, session 9), bounded at 1.75 KB so that what was taken off the load path stays off.</summary>
    private const long LoadBound = 1792;

    /// <summary>The same with a new context each time, whose own objects (the namespace, its lock, its module list,
    /// the public handle) come on top: 1,720 B measured (from 28.5 KB, then 7.4, 4.1, 2.6, 2.5 and 1.8 KB).</summary>
    private const long ContextAndLoadBound = 1920;

    [Fact]
    public void Loading_and_unloading_libz_in_a_warmed_context_allocates_less_than_the_bound()
    {
        using var context = new LoaderContext();
        long allocated = Measure(copy => Mapped(context.Load(copy)), "in a warmed context");
        Assert.True(allocated <= LoadBound, $"a load and unload of libz in a warmed context allocated {allocated} B, more than {LoadBound} B");
    }

    [Fact]
    public void A_new_context_with_a_load_and_unload_of_libz_allocates_less_than_the_bound()
    {
        long allocated = Measure(copy =>
        {
            var context = new LoaderContext();
            var library = Mapped(context.Load(copy));
            return new ContextOwningLibrary(context, library);
        }, "with a new context");
        Assert.True(allocated <= ContextAndLoadBound,
            $"a new context with a load and unload of libz allocated {allocated} B, more than {ContextAndLoadBound} B");
    }

    /// <summary>The least bytes one of rounds 1–5 allocated (round 0 warms up): load a private copy of libz, then dispose
    /// what was loaded. The least, because a load that finds the host's module list changed by a test running in
    /// parallel reads it again on top of its own allocation.</summary>
    private long Measure(Func<string, IDisposable> load, string how)
    {
        string dir = Directory.CreateTempSubdirectory("loader-alloc-").FullName;
        try
        {
            string copy = Path.Combine(dir, "libz.so.1");
            File.Copy("/usr/lib/x86_64-linux-gnu/libz.so.1", copy);
            long least = long.MaxValue;
            for (int round = 0; round < 6; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                using (load(copy))
                {
                }
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                output.WriteLine($"{how}, round {round}: {allocated} B");
                if (round > 0)
                    least = Math.Min(least, allocated);
            }
            return least;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The library, checked to be the copy Loader mapped, not the host's libz (which would cost nothing).</summary>
    private static ElfLibrary Mapped(ElfLibrary library)
    {
        Assert.False(library.IsHost, "took the host's libz instead of loading the copy");
        return library;
    }

    /// <summary>Disposes the library, then its context.</summary>
    private sealed class ContextOwningLibrary(LoaderContext context, ElfLibrary library) : IDisposable
    {
        public void Dispose()
        {
            library.Dispose();
            context.Dispose();
        }
    }
}
