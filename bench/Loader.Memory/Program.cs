using System.Globalization;

namespace Loader.Memory;

/// <summary>
/// <c>dotnet run -c Release --project bench/Loader.Memory -- [--set system|generated|all] [--count N] [--jit|--aot]</c>: the memory
/// a process holds for many libraries, Loader against glibc, each side in a process of its own. The sets:
/// <c>system</c>, every file of /usr/lib/x86_64-linux-gnu that Loader loads (decided by a probe child), and
/// <c>generated</c>, N (1,000) small libraries compiled with gcc. Prints RSS before and after for both sides, the
/// growth and the ratio; Loader twice, with a <see cref="LoaderContext"/> per library (isolated namespaces: each maps
/// its own copy of every dependency) and with one context for all (one namespace, as glibc's); for Loader also the GC's figures and the managed bytes each held library retains; and,
/// for both, resident memory by region (<see cref="RegionAccount"/>) before and after.
/// The child modes (<c>probe</c>, <c>hold-loader</c>) are how the program runs itself.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "probe")
            return SystemLibrarySet.Probe(args[1]);
        if (args.Length >= 3 && args[0] == "hold-loader")
            return LoaderHolder.Run(args[1], args[2], args[3..]);

        if (args.Contains("--aot") && args.Contains("--jit"))
        {
            Console.Error.WriteLine("loader-memory: --aot and --jit are two ways to run the Loader side: give one");
            return 2;
        }
        string set = Option(args, "--set") ?? "all";
        int count = int.Parse(Option(args, "--count") ?? "1000", CultureInfo.InvariantCulture);
        string work = Directory.CreateTempSubdirectory("loader-memory-").FullName;
        try
        {
            string glibcHolder = GlibcHolder.Build(work);
            var host = args.Contains("--aot") ? ShippedLoader.Host.NativeAot
                : args.Contains("--jit") ? ShippedLoader.Host.Jit : ShippedLoader.Host.Package;
            var (loaderCommand, loaderDescription) = ShippedLoader.Prepare(work, host);
            Console.WriteLine($"Loader side: {loaderDescription}");
            Console.WriteLine();
            if (set is "system" or "all")
                Compare("system: /usr/lib/x86_64-linux-gnu, the files Loader loads", SystemLibrarySet.Decide(work), null, work, glibcHolder, loaderCommand);
            if (set is "generated" or "all")
                Compare($"generated: {count} small libraries", GeneratedLibrarySet.Ensure(count),
                    GeneratedLibrarySet.Ensure(WarmUpLibraries, GeneratedLibrarySet.WarmUpPrefix), work, glibcHolder, loaderCommand);
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>How many libraries of their own the generated set warms up on (<see cref="GeneratedLibrarySet.WarmUpPrefix"/>).</summary>
    private const int WarmUpLibraries = 8;

    /// <summary>
    /// Both sides cold (the first load of the process is one of the set's) and warmed up (each first loads and unloads
    /// each warm-up file <see cref="LoaderHolder.WarmUpRounds"/> times and pauses a second — Loader in stages until one
    /// compiles nothing — then holds the set): the difference is what a process pays once, the first times it loads
    /// anything — for Loader the load path's code (and its recompilation once hot), for glibc little, its loader being
    /// in every process. The warm-up files are <paramref name="warmUpSet"/>, libraries whose symbols the set does not
    /// name (so that every path a new library's load takes has run, and nothing remembered for the set's names was made
    /// before the sample), or else a copy of the set's first file. Each side pauses a second after the loads before the
    /// sample.
    /// </summary>
    private static void Compare(string title, List<string> files, List<string>? warmUpSet, string work, string glibcHolder,
        Func<string[], (string FileName, List<string> Arguments)> loaderCommand)
    {
        string list = Path.Combine(work, "hold-list.txt");
        File.WriteAllLines(list, files);
        string[] warmUp;
        string warmUpText;
        if (warmUpSet is { Count: > 0 })
        {
            warmUp = [.. warmUpSet];
            warmUpText = $"each of {warmUp.Length} libraries outside the set ({Path.GetFileName(warmUp[0])} to {Path.GetFileName(warmUp[^1])})";
        }
        else
        {
            warmUp = [Path.Combine(work, "warm-up-" + Path.GetFileName(files[0]))];
            File.Copy(files[0], warmUp[0], overwrite: true);
            warmUpText = Path.GetFileName(files[0]);
        }
        var timeout = TimeSpan.FromMinutes(10);
        foreach (bool warmed in new[] { false, true })
        {
            string suffix = warmed ? ", warmed up" : "";
            string[] extra = warmed ? warmUp : [];
            var glibc = HolderProcess.Run("glibc" + suffix, glibcHolder, [list, .. extra], timeout);
            var (self, each) = loaderCommand(["hold-loader", list, "each", .. extra]);
            var loaderEach = HolderProcess.Run("Loader, a context each" + suffix, self, each, timeout);
            var (_, one) = loaderCommand(["hold-loader", list, "one", .. extra]);
            var loaderOne = HolderProcess.Run("Loader, one context" + suffix, self, one, timeout);
            Report.Print(Console.Out, title + (!warmed ? ", cold" : $", warmed up: stages of {LoaderHolder.WarmUpRounds} loads and unloads of {warmUpText} and a {LoaderHolder.WarmUpPause.TotalSeconds:0} s pause (Loader: until a stage compiles nothing; glibc: one)"),
                files.Count, glibc, [loaderEach, loaderOne]);
        }
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
