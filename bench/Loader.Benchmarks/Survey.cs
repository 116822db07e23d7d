using System.Diagnostics;
using System.Globalization;

namespace Loader.Benchmarks;

/// <summary>
/// <c>--survey [EVERY]</c>: load + unload against glibc on libraries no benchmark names — every EVERY-th regular ELF
/// file <c>*.so*</c> directly in the system library folder, by name (default 8: about 60 of this machine's). Each
/// library runs in a child process of its own (<c>--survey-one</c>), so one library's initializers, leaked
/// pthread keys or kept copies never weigh on the next, and a library that cannot be loaded here (a sanitizer
/// runtime that aborts outside its program) is reported and passed over. The child uses one
/// <see cref="LoaderContext"/> for all its loads, as glibc uses one namespace: what glibc keeps between a
/// <c>dlclose</c> and the next <c>dlopen</c> (<c>DF_1_NODELETE</c> dependencies, the definers of unique symbols), Loader
/// keeps in the context too. Glibc and Loader alternate in a shuffled order on fresh copies, medians of up to 200
/// rounds (fewer for a library whose rounds pass 6 s).
/// </summary>
internal static class Survey
{
    public const string Command = "--survey";
    public const string ChildCommand = "--survey-one";

    private const int MaxRounds = 200, MinRounds = 15;
    private static readonly TimeSpan RoundBudget = TimeSpan.FromSeconds(6), ChildTimeout = TimeSpan.FromSeconds(120);

    public static int Run(int every, TextWriter output)
    {
        var candidates = new DirectoryInfo(Libraries.SystemDirectory).EnumerateFiles("*.so*")
            .Where(f => f.LinkTarget is null && Libraries.IsElf(f.FullName))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .Where((_, i) => i % every == every / 2)
            .ToList();
        output.WriteLine($"{candidates.Count} libraries: every {every}th regular ELF *.so* in {Libraries.SystemDirectory}, a child process each");
        var rows = new List<(string Name, double Glibc, double Loader, int Rounds)>();
        var skipped = new List<(string Name, string Why)>();
        string results = Path.Combine(Path.GetTempPath(), $"loader-survey-{Environment.ProcessId}.txt");
        foreach (var file in candidates)
        {
            File.Delete(results);
            var (code, stderr) = RunChild(file.FullName, results);
            if (code == 0 && File.Exists(results))
            {
                string[] parts = File.ReadAllText(results).Split(' ');
                rows.Add((file.Name, double.Parse(parts[0], CultureInfo.InvariantCulture),
                    double.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture)));
                Console.Error.WriteLine($"{file.Name}: {rows[^1].Loader / rows[^1].Glibc:F2}×");
            }
            else
            {
                string why = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
                skipped.Add((file.Name, code is null ? "timed out" : $"exit {code}: {why.Trim()}"));
                Console.Error.WriteLine($"{file.Name}: skipped ({skipped[^1].Why})");
            }
        }
        File.Delete(results);

        output.WriteLine();
        output.WriteLine("| library | glibc dlopen+dlclose | Loader Load+Dispose | ratio | rounds |");
        output.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var r in rows.OrderByDescending(r => r.Loader / r.Glibc))
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Glibc:F0} µs | {r.Loader:F0} µs | {r.Loader / r.Glibc:F2}× | {r.Rounds} |"));
        if (rows.Count > 0)
        {
            var ratios = rows.Select(r => r.Loader / r.Glibc).Order().ToArray();
            output.WriteLine();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{rows.Count} measured: ratio median {ratios[ratios.Length / 2]:F2}×, quartiles {ratios[ratios.Length / 4]:F2}× and {ratios[3 * ratios.Length / 4]:F2}×, at most 1.0× for {ratios.Count(x => x <= 1.0)}, above 2.0× for {ratios.Count(x => x > 2.0)}"));
        }
        foreach (var (name, why) in skipped)
            output.WriteLine($"skipped {name}: {why}");
        return 0;
    }

    /// <summary>The child: one library, warmed up, then shuffled rounds; "glibc loader rounds" to <paramref name="resultPath"/>.</summary>
    public static int One(string path, string resultPath)
    {
        var context = new LoaderContext();
        string fileName = Path.GetFileName(path);
        double LoadOnce(string tag) => Libraries.OnPrivateCopyOf(path, tag, copy =>
        {
            long start = Stopwatch.GetTimestamp();
            context.Load(copy).Dispose();
            return Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        });
        double GlibcOnce(string tag) => Libraries.OnPrivateCopyOf(path, tag, Glibc.TimeLoadUnload);
        try
        {
            LoadOnce("survey-check");
        }
        catch (LoaderException e)
        {
            Console.Error.WriteLine($"Loader refuses {fileName}: {e.Message.Split('\n')[0]}");
            return 3;
        }
        // Warmed as the rounds run: each glibc load and unload between two of Loader's changes the host's list of
        // objects, and Loader's walk of it (a new object read) is code the rounds run every time. Warmed with Loader's
        // loads alone, that code ran at the JIT's first tiers for the rounds' first dozens (perf: about half of the
        // samples under Load in the last rounds of libgstnet's child were in QuickJitted or instrumented frames).
        JitWarmUp.UntilSettled(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                LoadOnce("survey-warm");
                GlibcOnce("survey-warm-glibc");
            }
        }, TimeSpan.FromMilliseconds(300), maxStages: 12);

        var glibc = new List<double>();
        var ours = new List<double>();
        var random = new Random(12);
        var clock = Stopwatch.StartNew();
        while (glibc.Count < MaxRounds && (glibc.Count < MinRounds || clock.Elapsed < RoundBudget))
        {
            if (random.Next(2) == 0)
            {
                glibc.Add(GlibcOnce("survey"));
                ours.Add(LoadOnce("survey"));
            }
            else
            {
                ours.Add(LoadOnce("survey"));
                glibc.Add(GlibcOnce("survey"));
            }
        }
        glibc.Sort();
        ours.Sort();
        File.WriteAllText(resultPath, string.Create(CultureInfo.InvariantCulture, $"{glibc[glibc.Count / 2]} {ours[ours.Count / 2]} {glibc.Count}"));
        return 0;
    }

    private static (int? Code, string Stderr) RunChild(string path, string resultPath)
    {
        var (program, arguments) = SelfCommand.With(ChildCommand, path, resultPath);
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var child = Process.Start(start)!;
        var stderr = child.StandardError.ReadToEndAsync();
        child.StandardOutput.ReadToEndAsync();
        if (!child.WaitForExit(ChildTimeout))
        {
            child.Kill(entireProcessTree: true);
            return (null, "");
        }
        return (child.ExitCode, stderr.Result);
    }
}
