using Loader.Linking;
using System.Globalization;

namespace Loader.Memory;

/// <summary>
/// The Loader side, run as a child (<c>hold-loader LIST each|one</c>): every file in LIST loaded with default
/// options, all held at once, each in a <see cref="LoaderContext"/> of its own (<c>each</c>: isolated namespaces, so
/// every context maps its own copy of each dependency, as <c>dlmopen</c> would) or all in one (<c>one</c>: one
/// namespace, as glibc's <c>dlopen</c> shares a dependency between the libraries that need it). Speaks <see cref="HolderProcess"/>'s protocol and reports the
/// managed figures itself (only the process knows its GC heap).
/// </summary>
internal static class LoaderHolder
{
    /// <summary>How many loads and unloads warm a holder up (tiered compilation counts 30 calls before it recompiles).</summary>
    public const int WarmUpRounds = 50;

    /// <summary>The pause after them: the runtime's call-counting delay is 100 ms, its background compilation a few more.</summary>
    public static readonly TimeSpan WarmUpPause = TimeSpan.FromSeconds(1);

    public static int Run(string listFile, string contexts, string? warmUp)
    {
        // Loads and unloads first, each in a context of its own, as the glibc side makes them, then a pause: the load
        // path's code (paged in from the ReadyToRun image, or compiled by the JIT, then recompiled at tier 1 once hot, on
        // the runtime's background thread after its call-counting delay), the host modules' tables and libgcc_s are
        // what a process pays the first times it loads anything, not for holding the set. With a single warm-up load the
        // recompilation landed inside the measured loads or after them from run to run (about 2.5 MB of JIT arena,
        // code and runtime pages either way).
        if (warmUp is not null)
        {
            for (int round = 0; round < WarmUpRounds; round++)
            {
                using var warm = new LoaderContext();
                warm.Load(warmUp).Dispose();
            }
            Thread.Sleep(WarmUpPause);
        }
        var shared = contexts == "one" ? new LoaderContext() : null;
        string[] paths = [.. File.ReadAllLines(listFile).Where(p => p.Length > 0)];
        long managedBefore = GC.GetTotalMemory(forceFullCollection: true);
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long committedBefore = GC.GetGCMemoryInfo().TotalCommittedBytes;
        Say("before");

        var held = new List<ElfLibrary>(paths.Length);
        int failed = 0;
        foreach (string path in paths)
        {
            var context = shared ?? new LoaderContext();
            try
            {
                held.Add(context.Load(path));
            }
            catch (LoaderException e)
            {
                failed++;
                if (shared is null)
                    context.Dispose();
                Console.Error.WriteLine($"loader-holder: {e.Message}");
            }
        }
        long allocatedAfter = GC.GetTotalAllocatedBytes(precise: true);
        long committedAfterLoads = GC.GetGCMemoryInfo().TotalCommittedBytes;
        Say($"after {held.Count} {failed}");

        long managedAfter = GC.GetTotalMemory(forceFullCollection: true);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        long committedAfterCollect = GC.GetGCMemoryInfo().TotalCommittedBytes;
        Say("collected");

        Figure("managed_before", managedBefore);
        Figure("managed_after", managedAfter);
        Figure("allocated_during_loads", allocatedAfter - allocatedBefore);
        Figure("gc_committed_before", committedBefore);
        Figure("gc_committed_after_loads", committedAfterLoads);
        Figure("gc_committed_after_collect", committedAfterCollect);
        Figure("retained_per_library", held.Count == 0 ? 0 : (managedAfter - managedBefore) / held.Count);
        foreach (var (start, length) in ImageRanges(held))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"image {(ulong)start} {length}"));
        Say("end");
        GC.KeepAlive(held);
        return 0;
    }

    /// <summary>Every image Loader mapped for the held libraries: each context's loaded modules' reservations (a
    /// module's range is read through a second handle on it, given back at once).</summary>
    private static List<(nint Start, ulong Length)> ImageRanges(List<ElfLibrary> held)
    {
        var ranges = new List<(nint Start, ulong Length)>();
        foreach (var context in held.Select(library => library.Context).Distinct())
            foreach (var state in context.LoadedLibraries)
            {
                if (state.Module.Origin != ModuleOrigin.Loaded)
                    continue;
                using var handle = context.Load(state.Module.Path);
                ranges.Add((handle.ReservedRange.Start, handle.ReservedRange.Length));
            }
        return ranges;
    }

    private static void Figure(string name, long value) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"figure {name} {value}"));

    private static void Say(string line)
    {
        Console.WriteLine(line);
        Console.Out.Flush();
        if (Console.ReadLine() is null)
            Environment.Exit(2);
    }
}
