using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;

namespace Loader.Benchmarks;

/// <summary>
/// Runs each case of the class in <c>count</c> processes, one after the other, whichever job runs it (the default,
/// <c>--quick</c>), and pools their iterations. For benchmarks of one load an iteration: on this VM a process keeps the
/// speed it started with, so one process's figure is as much its luck as the code's (docs/benchmarks.md, "How far apart
/// BenchmarkDotNet's runs are").
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class LaunchesAttribute(int count) : JobMutatorConfigBaseAttribute(new Job().WithLaunchCount(count));
