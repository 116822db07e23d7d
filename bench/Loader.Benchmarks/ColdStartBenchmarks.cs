using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace Loader.Benchmarks;

/// <summary>
/// Cold start: a fresh process whose first act is one load of libz (bench/Loader.ColdStart, or for glibc the C probe
/// bench/Loader.ColdStart/coldstart-probe.c), started and waited for by each invocation, so the time is the whole
/// process — runtime start-up, the JIT or the ReadyToRun code, the load, exit. The child also times its own first load
/// from inside (Stopwatch and the thread's CPU time); the medians of those are printed at the end of each case
/// ("// child:" lines in the log). The variants, made in the setup under <c>$TMPDIR/loader-coldstart</c>:
/// <list type="bullet">
/// <item>glibc: the C probe's <c>dlopen(RTLD_NOW|RTLD_LOCAL)</c> + <c>dlclose</c>; the baseline.</item>
/// <item>JIT: the console published framework-dependent, no ReadyToRun: Loader.dll is IL only.</item>
/// <item>ReadyToRun package: the same, with Loader.dll replaced by the one <c>dotnet pack src/Loader</c> puts in the
///   package (ReadyToRun for linux-x64): what a user of the NuGet package gets without doing anything.</item>
/// <item>ReadyToRun app: the console published with <c>PublishReadyToRun</c> (and the package's crossgen2 options), so
///   the console is precompiled too.</item>
/// </list>
/// One invocation per iteration (RunStrategy.Monitoring: a process start is long enough, and no pilot is needed).
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 3, iterationCount: 30)]
public class ColdStartBenchmarks
{
    private const string Libz = "/usr/lib/x86_64-linux-gnu/libz.so.1";
    private static string Cache => Path.Combine(Path.GetTempPath(), "loader-coldstart");

    private string _program = "";
    private readonly Dictionary<string, List<long>> _figures = [];

    [GlobalSetup(Target = nameof(Glibc))]
    public void SetupGlibc()
    {
        Directory.CreateDirectory(Cache);
        _program = Path.Combine(Cache, "coldstart-probe");
        ChildProcess.Run("gcc", "-O2", "-Wall", "-o", _program, Repository.File("bench", "Loader.ColdStart", "coldstart-probe.c"));
    }

    [GlobalSetup(Target = nameof(LoaderJit))]
    public void SetupJit() => _program = PublishConsole("jit", readyToRun: false);

    [GlobalSetup(Target = nameof(LoaderReadyToRunPackage))]
    public void SetupPackage()
    {
        string jit = Path.GetDirectoryName(PublishConsole("jit", readyToRun: false))!;
        string feed = Path.Combine(Cache, "feed");
        if (Directory.Exists(feed))
            Directory.Delete(feed, recursive: true);
        ChildProcess.Run("dotnet", "pack", Repository.File("src", "Loader"), "-c", "Release", "-o", feed);
        string package = Path.Combine(Cache, "package");
        if (Directory.Exists(package))
            Directory.Delete(package, recursive: true);
        Directory.CreateDirectory(package);
        foreach (string file in Directory.GetFiles(jit))
            File.Copy(file, Path.Combine(package, Path.GetFileName(file)));
        using (var nupkg = ZipFile.OpenRead(Directory.GetFiles(feed, "Loader.*.nupkg").Single()))
        {
            var entry = nupkg.GetEntry("lib/net10.0/Loader.dll") ?? throw new InvalidOperationException("the package has no lib/net10.0/Loader.dll");
            entry.ExtractToFile(Path.Combine(package, "Loader.dll"), overwrite: true);
        }
        _program = Path.Combine(package, "Loader.ColdStart");
    }

    [GlobalSetup(Target = nameof(LoaderReadyToRunApp))]
    public void SetupApp() => _program = PublishConsole("app-r2r", readyToRun: true);

    [GlobalCleanup]
    public void PrintChildFigures()
    {
        foreach (var (name, values) in _figures.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            long[] sorted = [.. values.Order()];
            string unit = name.EndsWith("-us", StringComparison.Ordinal) ? " us" : "";
            Console.WriteLine($"// child: {name} median {sorted[sorted.Length / 2]}{unit}, min {sorted[0]}{unit}, max {sorted[^1]}{unit} ({sorted.Length} runs)");
        }
    }

    [Benchmark(Baseline = true, Description = "glibc: C probe, first dlopen")]
    public void Glibc() => StartAndWait();

    [Benchmark(Description = "Loader: JIT")]
    public void LoaderJit() => StartAndWait();

    [Benchmark(Description = "Loader: ReadyToRun package")]
    public void LoaderReadyToRunPackage() => StartAndWait();

    [Benchmark(Description = "Loader: ReadyToRun app")]
    public void LoaderReadyToRunApp() => StartAndWait();

    private void StartAndWait()
    {
        var start = new ProcessStartInfo(_program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Libz);
        // Nothing of this process's runtime settings may reach the child: it starts as a user's program would.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("DOTNET_", StringComparison.Ordinal) || k.StartsWith("COMPlus_", StringComparison.Ordinal)).ToArray())
            start.Environment.Remove(name);
        start.Environment["LOADER_COLDSTART_SPAWNED"] = Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {_program}");
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{_program} exited with {process.ExitCode}: {stdout}{stderr}");
        foreach (string line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = line.Split(' ');
            if (parts.Length == 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            {
                if (!_figures.TryGetValue(parts[0], out var list))
                    _figures[parts[0]] = list = [];
                list.Add(value);
            }
        }
    }

    /// <summary>Publishes bench/Loader.ColdStart (framework-dependent, linux-x64) into the cache; returns its executable.</summary>
    private static string PublishConsole(string name, bool readyToRun)
    {
        string output = Path.Combine(Cache, name);
        var arguments = new List<string>
        {
            "publish", Repository.File("bench", "Loader.ColdStart"), "-c", "Release", "-r", "linux-x64", "--self-contained", "false",
            "-o", output, $"-p:PublishReadyToRun={(readyToRun ? "true" : "false")}",
        };
        if (readyToRun)
        {
            // The package's crossgen2 options (src/Loader/Loader.csproj, ReadyToRunCrossgen2Args), here for every assembly.
            arguments.Add("-p:PublishReadyToRunCrossgen2ExtraArgs=--non-local-generics-module:Loader%3B--opt-cross-module:System.Private.CoreLib");
        }
        ChildProcess.Run("dotnet", [.. arguments]);
        return Path.Combine(output, "Loader.ColdStart");
    }
}
