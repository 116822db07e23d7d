using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;

namespace Loader.Benchmarks;

/// <summary>
/// <c>--compare-builds DIR_A DIR_B [LIBRARY…]</c>: two builds of Loader side by side in one process, to tell whether a
/// change moved a load by a few percent. Each directory's <c>Loader.dll</c> goes into its own
/// <see cref="AssemblyLoadContext"/> (its own statics, caches and JIT-compiled code); both are warmed up until a stage
/// compiles nothing, then each round loads and unloads a fresh copy of the library once through each build, in an order
/// shuffled per round, and the medians and first quartiles are compared. Separate processes (one per build, or
/// BenchmarkDotNet's one per case) differ by more than that on this VM: the machine's speed drifts between them, and
/// within one process it drifts for both builds alike. Not BenchmarkDotNet: a development tool whose figures
/// docs/benchmarks.md quotes with this command; glibc's ratios come from <c>LoadUnloadBenchmarks</c>.
/// </summary>
internal static class BuildComparison
{
    public const string Command = "--compare-builds";
    private const int Rounds = 300;

    public static int Run(string directoryA, string directoryB, string[] libraries, TextWriter output)
    {
        if (libraries.Length == 0)
            libraries = ["libz.so.1", "libsqlite3.so.0", "libpfm.so.4", "libcrypto.so.3", "libpython3.11.so.1.0"];
        var builds = new[] { Build(directoryA), Build(directoryB) };
        output.WriteLine($"A = {directoryA}, B = {directoryB}; {Rounds} rounds a library, each build once a round, shuffled");
        output.WriteLine("| library | A median | B median | B / A | A p25 | B p25 | B / A (p25) |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (string library in libraries)
        {
            string source = Libraries.SystemPath(library);
            int copies = 0;
            // One load and unload of a fresh copy through a build: its time in µs (the copy's making is not timed).
            double LoadOnce(Func<string, IDisposable> load)
            {
                string copy = Libraries.PrivateCopyOf(source, $"ab{copies++}");
                try
                {
                    long start = Stopwatch.GetTimestamp();
                    load(copy).Dispose();
                    return Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }
                finally
                {
                    Libraries.DeletePrivateCopy(copy);
                }
            }
            JitWarmUp.UntilSettled(() =>
            {
                for (int i = 0; i < 60; i++)
                {
                    LoadOnce(builds[0]);
                    LoadOnce(builds[1]);
                }
            }, TimeSpan.FromMilliseconds(300), maxStages: 30);
            var times = new[] { new List<double>(Rounds), new List<double>(Rounds) };
            var random = new Random(library.Length);
            int[] order = [0, 1];
            for (int round = 0; round < Rounds; round++)
            {
                random.Shuffle(order);
                foreach (int side in order)
                    times[side].Add(LoadOnce(builds[side]));
            }
            foreach (var t in times)
                t.Sort();
            double a = times[0][Rounds / 2], b = times[1][Rounds / 2], a25 = times[0][Rounds / 4], b25 = times[1][Rounds / 4];
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {library} | {a:F0} µs | {b:F0} µs | {b / a:F3} | {a25:F0} µs | {b25:F0} µs | {b25 / a25:F3} |"));
        }
        return 0;
    }

    /// <summary>A build's <c>LoaderContext.Load(path)</c>, called through reflection (the same cost for both), in one
    /// context per build: as glibc's one namespace keeps only the first copy that defines a unique symbol, the context
    /// keeps only one copy of a C++ library (a context per load kept every copy, each in a namespace of its own, and
    /// the process slowed down under hundreds of them — docs/benchmarks.md, "Session 13").</summary>
    private static Func<string, IDisposable> Build(string directory)
    {
        string path = Path.GetFullPath(Path.Combine(directory, "Loader.dll"));
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no Loader.dll in {directory}", path);
        var context = new AssemblyLoadContext(path);
        var assembly = context.LoadFromAssemblyPath(path);
        var contextType = assembly.GetType("Loader.LoaderContext", throwOnError: true)!;
        var load = contextType.GetMethod("Load", [typeof(string), assembly.GetType("Loader.LoadOptions", throwOnError: true)!])
            ?? throw new MissingMethodException($"{path}: no LoaderContext.Load(string, LoadOptions)");
        object loaderContext = Activator.CreateInstance(contextType)!;
        return copy =>
        {
            try
            {
                return (IDisposable)load.Invoke(loaderContext, [copy, null])!;
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                throw e.InnerException;
            }
        };
    }
}
