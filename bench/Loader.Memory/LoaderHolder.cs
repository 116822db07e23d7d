using Loader.Linking;
using System.Globalization;

namespace Loader.Memory;

/// <summary>
/// The Loader side, run as a child (<c>hold-loader LIST each|one [WARM-UP-FILE...]</c>): every file in LIST loaded with default
/// options, all held at once, each in a <see cref="LoaderContext"/> of its own (<c>each</c>: isolated namespaces, so
/// every context maps its own copy of each dependency, as <c>dlmopen</c> would) or all in one (<c>one</c>: one
/// namespace, as glibc's <c>dlopen</c> shares a dependency between the libraries that need it). Speaks <see cref="HolderProcess"/>'s protocol and reports the
/// managed figures itself (only the process knows its GC heap).
/// </summary>
internal static class LoaderHolder
{
    /// <summary>How many loads and unloads make one warm-up stage (tiered compilation counts 30 calls before it
    /// recompiles).</summary>
    public const int WarmUpRounds = 50;

    /// <summary>The pause after each stage, and after the measured loads before the sample: the runtime's
    /// call-counting delay is 100 ms, its background compilation a few more.</summary>
    public static readonly TimeSpan WarmUpPause = TimeSpan.FromSeconds(1);

    /// <summary>The most warm-up stages before the holder measures anyway (it says how many it ran).</summary>
    public const int MaxWarmUpStages = 8;

    public static int Run(string listFile, string contexts, IReadOnlyList<string> warmUp)
    {
        // Loads and unloads first, as the glibc side makes them, then a pause: the load path's code (paged in from the
        // ReadyToRun image, or compiled by the JIT, then recompiled once hot, on the runtime's background thread after
        // its call-counting delay), the host modules' tables and libgcc_s are what a process pays the first times it
        // loads anything, not for holding the set. In stages, until a stage compiles nothing: a hot ReadyToRun method is
        // first recompiled with instrumentation (tiered PGO), and only after 30 more calls for good — with one stage that
        // second compilation (about 9 MB of JIT arena, code and runtime pages for the generated set) was still pending
        // when the sample was taken, and landed a second later. Each round loads every warm-up file into one context,
        // holds them together, and unloads them with it: several libraries with names of their own take the paths a new
        // library's load takes (its own symbols in no remembered answer, a namespace that holds others already), which
        // one file loaded again and again does not.
        int stages = warmUp.Count == 0 ? 0 : JitWarmUp.UntilSettled(() =>
        {
            for (int round = 0; round < WarmUpRounds; round++)
            {
                using var warm = new LoaderContext();
                foreach (string file in warmUp)
                    warm.Load(file);
            }
        }, WarmUpPause, MaxWarmUpStages);
        var shared = contexts == "one" ? new LoaderContext() : null;
        string[] paths = [.. File.ReadAllLines(listFile).Where(p => p.Length > 0)];
        // The warm-up's garbage is collected and its memory given back before the first sample (an aggressive
        // collection decommits what it frees): the GC keeps freed memory committed and resident, and the measured
        // loads would fill those pages instead of growing the process, hiding what the held set costs.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        long managedBefore = GC.GetTotalMemory(forceFullCollection: true);
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long committedBefore = GC.GetGCMemoryInfo().TotalCommittedBytes;
        long compiledBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
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
        // The same pause before the sample, on both sides: what the loads made hot is compiled in it, so the growth
        // holds the same things however the runtime's background work is timed.
        Thread.Sleep(WarmUpPause);
        long compiledDuringLoads = System.Runtime.JitInfo.GetCompiledMethodCount() - compiledBefore;
        Say($"after {held.Count} {failed}");

        long managedAfter = GC.GetTotalMemory(forceFullCollection: true);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        long committedAfterCollect = GC.GetGCMemoryInfo().TotalCommittedBytes;
        Say("collected");

        Figure("managed_before", managedBefore);
        Figure("managed_after", managedAfter);
        Figure("allocated_during_loads", allocatedAfter - allocatedBefore);
        Figure("gc_committed_before", committedBefore);
        Figure("gc_committed_after_collect", committedAfterCollect);
        Figure("warm_up_stages", stages);
        Figure("jit_compiled_during_loads", compiledDuringLoads);
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
