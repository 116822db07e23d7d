using System.Diagnostics;
using System.Globalization;

namespace Loader.Benchmarks.Phases;

/// <summary>
/// <c>--phases [LIBRARY…]</c>: where a load's time goes, per phase, next to glibc's whole <c>dlopen</c> +
/// <c>dlclose</c> of the same library. For each library it runs this program again under
/// <c>perf record -g</c> (with <c>DOTNET_PerfMapEnabled=1</c>, so perf names JIT-compiled frames) in the
/// <c>--phases-loop</c> mode: warm up, then load and unload a fresh copy of the file many times, alternating with
/// glibc on its own fresh copies, and write both sides' median times. The samples under Loader's entry points are
/// then counted by phase (<see cref="PhaseAttribution"/>), and each phase's share of the samples is turned into
/// microseconds of the median load + unload. Beside them, the physical floor (<c>Phases/floor.c</c>, compiled with
/// gcc): the system calls a load needs and one pass over the relocations at memory speed, on fresh copies too. Not BenchmarkDotNet: a profile, for the breakdown; the ratios to quote
/// come from <c>LoadUnloadBenchmarks</c>.
/// </summary>
internal static class PhaseProfile
{
    public const string Command = "--phases";
    public const string LoopCommand = "--phases-loop";

    private static readonly string[] DefaultLibraries =
        ["libz.so.1", "libsqlite3.so.0", "libpfm.so.4", "libcrypto.so.3", "libpython3.11.so.1.0"];

    public static int Run(string[] libraries, TextWriter output)
    {
        if (libraries.Length == 0)
            libraries = DefaultLibraries;
        output.WriteLine($"| library | floor | glibc dlopen+dlclose | Loader Load+Dispose | ratio | {string.Join(" | ", PhaseAttribution.Order)} | samples |");
        output.WriteLine($"|---|---:|---:|---:|---:|{string.Concat(PhaseAttribution.Order.Select(_ => "---:|"))}---:|");
        foreach (string library in libraries)
        {
            string directory = Directory.CreateTempSubdirectory("loader-phases-").FullName;
            try
            {
                double floor = Floor(library, directory);
                var (glibc, ours, counts) = Profile(library, directory);
                int total = counts.Values.Sum();
                var cells = PhaseAttribution.Order.Select(p => total == 0 ? "-"
                    : string.Create(CultureInfo.InvariantCulture, $"{ours * counts[p] / total:F0} µs ({100.0 * counts[p] / total:F0} %)"));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {library} | {floor:F0} µs | {glibc:F0} µs | {ours:F0} µs | {ours / glibc:F2}× | {string.Join(" | ", cells)} | {total} |"));
            }
            finally
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        return 0;
    }

    /// <summary>The median of <c>floor.c</c> on fresh copies: the system calls a load needs and one pass over the
    /// relocations, nothing else (no lookup, no initializer, no bookkeeping).</summary>
    private static double Floor(string library, string directory)
    {
        string source = Path.Combine(AppContext.BaseDirectory, "Phases", "floor.c");
        string program = Path.Combine(directory, "floor");
        RunToEnd(Start("gcc", ["-O2", "-o", program, source]), "gcc floor.c");
        var run = Start(program, [Libraries.SystemPath(library), "500", directory]);
        run.Start();
        string median = run.StandardOutput.ReadToEnd();
        string error = run.StandardError.ReadToEnd();
        run.WaitForExit();
        if (run.ExitCode != 0)
            throw new InvalidOperationException($"floor {library} exited with {run.ExitCode}: {error}");
        return double.Parse(median, CultureInfo.InvariantCulture);
    }

    private static (double Glibc, double Ours, Dictionary<string, int> Counts) Profile(string library, string directory)
    {
        string data = Path.Combine(directory, "perf.data");
        string medians = Path.Combine(directory, "medians.txt");
        string self = typeof(PhaseProfile).Assembly.Location;
        var record = Start("perf", ["record", "-q", "-F", "2999", "-g", "-o", data, "--", "dotnet", self, LoopCommand, library, medians]);
        record.StartInfo.Environment["DOTNET_PerfMapEnabled"] = "1";
        // The runtime's W^X double mapping hides JIT frames from perf's map file.
        record.StartInfo.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        RunToEnd(record, "perf record");
        var script = Start("perf", ["script", "-i", data, "-F", "ip,sym"]);
        script.Start();
        var counts = PhaseAttribution.Count(Lines(script.StandardOutput));
        script.WaitForExit();
        if (script.ExitCode != 0)
            throw new InvalidOperationException($"perf script exited with {script.ExitCode}: {script.StandardError.ReadToEnd()}");
        string[] both = File.ReadAllText(medians).Split(' ');
        return (double.Parse(both[0], CultureInfo.InvariantCulture), double.Parse(both[1], CultureInfo.InvariantCulture), counts);
    }

    /// <summary>The profiled child: JIT warm-up, then <paramref name="rounds"/> rounds of one glibc and one Loader
    /// load + unload, each of its own fresh copy; the medians go to <paramref name="mediansPath"/>.</summary>
    public static int Loop(string library, string mediansPath, int rounds = 1500)
    {
        // Both sides' code paths warm (glibc's is compiled already, the glibc timing's managed code is not), until
        // a stage compiles nothing (JitWarmUp): the measured rounds run the optimized load path.
        int stages = JitWarmUp.UntilSettled(() =>
        {
            for (int i = 0; i < 60; i++)
            {
                string warm = Libraries.PrivateCopy(library, "phases-warm");
                new LoaderContext().Load(warm).Dispose();
                Libraries.DeletePrivateCopy(warm);
            }
            // A few: glibc keeps a DF_1_NODELETE library's copies loaded.
            for (int i = 0; i < 2; i++)
            {
                string warm = Libraries.PrivateCopy(library, "phases-warm");
                Glibc.TimeLoadUnload(warm);
                Libraries.DeletePrivateCopy(warm);
            }
        }, TimeSpan.FromMilliseconds(500), maxStages: 30);
        Console.Error.WriteLine($"{library}: warmed up in {stages} stages of 60 loads and 0.5 s");
        var glibc = new double[rounds];
        var ours = new double[rounds];
        for (int i = 0; i < rounds; i++)
        {
            string copy = Libraries.PrivateCopy(library, "phases-glibc");
            glibc[i] = Glibc.TimeLoadUnload(copy);
            Libraries.DeletePrivateCopy(copy);
            copy = Libraries.PrivateCopy(library, "phases-loader");
            long start = Stopwatch.GetTimestamp();
            new LoaderContext().Load(copy).Dispose();
            ours[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            Libraries.DeletePrivateCopy(copy);
        }
        Array.Sort(glibc);
        Array.Sort(ours);
        File.WriteAllText(mediansPath, string.Create(CultureInfo.InvariantCulture, $"{glibc[rounds / 2]} {ours[rounds / 2]}"));
        return 0;
    }

    private static Process Start(string program, string[] arguments)
    {
        var process = new Process { StartInfo = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true } };
        foreach (string argument in arguments)
            process.StartInfo.ArgumentList.Add(argument);
        return process;
    }

    private static void RunToEnd(Process process, string what)
    {
        process.Start();
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{what} exited with {process.ExitCode}: {stdout}{stderr}");
    }

    private static IEnumerable<string> Lines(StreamReader reader)
    {
        while (reader.ReadLine() is { } line)
            yield return line;
    }
}
