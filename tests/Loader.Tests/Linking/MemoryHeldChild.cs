using System.Globalization;

namespace Loader.Tests.Linking;

/// <summary>
/// The child-process side of <see cref="MemoryHeldTests"/>: process-wide figures (RSS, the managed heap) are only
/// meaningful in a process where nothing else runs, not in the test host, where other tests load and allocate at the
/// same time.
/// </summary>
public static class MemoryHeldChild
{
    /// <summary><c>load-unload-cycles PATH WARMUP CYCLES</c>: loads and unloads PATH (a context each time) WARMUP
    /// times, then CYCLES times more, printing after each of those <c>sample MANAGED_BYTES RSS_BYTES</c> taken after a
    /// full collection.</summary>
    public const string LoadUnloadCycles = "load-unload-cycles";

    /// <summary><c>retained-per-library COUNT PATH</c>: holds COUNT loads of PATH, a context each (so each maps its own
    /// copy), and prints <c>retained BYTES IMAGES</c>: the managed heap's growth (after full collections) divided by
    /// COUNT, and how many images each load mapped (the library and the dependencies the host does not have).</summary>
    public const string RetainedPerLibrary = "retained-per-library";

    /// <summary><c>retained-in-one-context PATH...</c>: loads every PATH once in its own context and unloads it (the
    /// process's one-time state: host modules, ld.so.cache, names, caches), then holds them all in one context and
    /// prints <c>retained BYTES IMAGES</c>: the managed heap's growth (after full collections) divided by the images that
    /// context mapped (the libraries and the dependencies the host does not have), and their count.</summary>
    public const string RetainedInOneContext = "retained-in-one-context";

    public static int LoadAndUnload(string path, int warmup, int cycles)
    {
        for (int cycle = 0; cycle < warmup + cycles; cycle++)
        {
            using (var context = new LoaderContext())
            using (var library = context.Load(path))
                GC.KeepAlive(library);
            if (cycle < warmup)
                continue;
            long managed = GC.GetTotalMemory(forceFullCollection: true);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sample {managed} {ResidentBytes()}"));
        }
        return 0;
    }

    public static int Retained(int count, string path)
    {
        using (var warm = new LoaderContext())
            warm.Load(path).Dispose(); // the load path's one-time state (host modules, static tables) is not per library
        var held = new List<ElfLibrary>(count);
        long before = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < count; i++)
            held.Add(new LoaderContext().Load(path));
        long after = GC.GetTotalMemory(forceFullCollection: true);
        int images = held[0].Context.LoadedLibraries.Count(state => state.Module.Origin == Loader.Linking.ModuleOrigin.Loaded);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"retained {(after - before) / count} {images}"));
        GC.KeepAlive(held);
        return 0;
    }

    public static int RetainedInOne(IReadOnlyList<string> paths)
    {
        foreach (string path in paths)
            using (var warm = new LoaderContext())
                warm.Load(path).Dispose();
        var held = new List<ElfLibrary>(paths.Count);
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var context = new LoaderContext();
        foreach (string path in paths)
            held.Add(context.Load(path));
        long after = GC.GetTotalMemory(forceFullCollection: true);
        int images = context.LoadedLibraries.Count(state => state.Module.Origin == Loader.Linking.ModuleOrigin.Loaded);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"retained {(after - before) / images} {images}"));
        GC.KeepAlive(held);
        return 0;
    }

    /// <summary>The second field of /proc/self/statm (resident pages), in bytes.</summary>
    internal static long ResidentBytes() =>
        long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1], CultureInfo.InvariantCulture) * Environment.SystemPageSize;
}
