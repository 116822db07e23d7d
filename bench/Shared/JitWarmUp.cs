using System.Runtime;

namespace Loader.BenchShared;

/// <summary>
/// Puts Loader's load path where a long-running program has it before a measurement: repeats a stage of work and a
/// pause until a stage compiles nothing. Tiered compilation recompiles a hot method in steps, each after the runtime's
/// call-counting delay (100 ms, restarted whenever something new is compiled) and 30 counted calls: tier 0 or
/// ReadyToRun code first, then an instrumented version (tiered PGO), and only then the optimized one — and the
/// background worker compiles the hundreds of methods a load runs one by one. A fixed warm-up (a few stages of 50 loads
/// and 0.2 s) left the load path instrumented for the first seconds of the measured rounds.
/// </summary>
internal static class JitWarmUp
{
    /// <summary>Runs <paramref name="stage"/> then sleeps <paramref name="pause"/>, again until the process's count of
    /// compiled methods did not change over a stage, at most <paramref name="maxStages"/> times; returns how many stages
    /// ran.</summary>
    public static int UntilSettled(Action stage, TimeSpan pause, int maxStages)
    {
        int stages = 0;
        long compiled;
        do
        {
            compiled = JitInfo.GetCompiledMethodCount();
            stage();
            Thread.Sleep(pause);
            stages++;
        }
        while (JitInfo.GetCompiledMethodCount() != compiled && stages < maxStages);
        return stages;
    }
}
