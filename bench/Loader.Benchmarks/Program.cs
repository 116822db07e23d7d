using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace Loader.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project bench/Loader.Benchmarks -- --filter '*'</c> runs every benchmark with
/// BenchmarkDotNet's default job; add <c>--quick</c> (ours: <see cref="Job.ShortRun"/>, 3 warm-ups and 3 iterations)
/// or BenchmarkDotNet's own <c>--job short</c> for a run of a few minutes. Every other argument is BenchmarkDotNet's,
/// except <c>--phases [LIBRARY…]</c>, the per-phase profile under perf (<see cref="Phases.PhaseProfile"/>), and
/// <c>--compare-builds DIR_A DIR_B [LIBRARY…]</c>, two builds of Loader compared in one process
/// (<see cref="BuildComparison"/>), <c>--survey [EVERY]</c>, system libraries no benchmark names
/// (<see cref="Survey"/>), and <c>--paired [--held N,…] [LIBRARY…]</c>, glibc and Loader in a process each, in
/// lockstep, optionally holding N generated libraries (<see cref="Paired"/>).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // Not BenchmarkDotNet: the per-phase profile (docs/benchmarks.md, "Where the time goes").
        if (args is [Phases.PhaseProfile.Command, .. var libraries])
            return Phases.PhaseProfile.Run(libraries, Console.Out);
        if (args is [Phases.PhaseProfile.LoopCommand, string library, string medians])
            return Phases.PhaseProfile.Loop(library, medians);
        // Not BenchmarkDotNet either: two builds of Loader in one process (docs/benchmarks.md, "Session 11").
        if (args is [BuildComparison.Command, string buildA, string buildB, .. var compared])
            return BuildComparison.Run(buildA, buildB, compared, Console.Out);
        // Nor this: libraries no benchmark names, a child process each (docs/benchmarks.md, "Survey").
        if (args is [Survey.Command, .. var every] && every.Length <= 1)
            return Survey.Run(every is [string n] ? int.Parse(n, System.Globalization.CultureInfo.InvariantCulture) : 8, Console.Out);
        if (args is [Survey.ChildCommand, string surveyed, string result])
            return Survey.One(surveyed, result);
        // Nor this: each side in a process of its own, in lockstep (docs/benchmarks.md, "Session 13").
        if (args is [Paired.Command, .. var paired])
            return Paired.Run(paired, Console.Out);
        if (args is [Paired.ChildCommand, string side, string pairedLibrary, string held, string setSize])
            return Paired.Child(side, pairedLibrary, int.Parse(held, System.Globalization.CultureInfo.InvariantCulture),
                int.Parse(setSize, System.Globalization.CultureInfo.InvariantCulture));
        IConfig config = DefaultConfig.Instance;
        if (args.Contains("--quick"))
        {
            args = [.. args.Where(a => a != "--quick")];
            config = config.AddJob(Job.ShortRun.AsDefault());
        }
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
