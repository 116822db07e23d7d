using System.Diagnostics;
using System.Globalization;
using Loader;

// The cold start of a Loader user: this process does nothing before its first load. It prints, one line each,
//   first-load-us N      the Stopwatch time of the first new LoaderContext().Load(libz): the JIT's (or ReadyToRun's)
//                        share of the load path is in it, since nothing of Loader ran before
//   first-dispose-us N   the Dispose after it
//   first-load-cpu-us N  the CPU time this thread spent in that first load (the JIT compiles on the calling thread;
//                        on a busy machine this is steadier than the Stopwatch time)
//   first-load-jit-us N  of which the JIT compiling (System.Runtime.JitInfo, this thread), and
//   first-load-jitted N  how many methods it compiled: what ReadyToRun left to the JIT
//   first-load-rss-kb N  how much the process's resident set grew over that first load (/proc/self/statm): the load
//                        path's code and data paged in, and whatever the runtime loads for it (ICU, if the library
//                        asked for a culture: this console, like an application by default, is not in invariant mode)
//   second-load-us N     a second load and Dispose of the same file in a new context, for scale: the load path's
//                        cost once its code is ready
//   since-spawn-us N     from the parent's Process.Start to the end of that load (the runtime's start-up included),
//                        when the parent put its Stopwatch timestamp in LOADER_COLDSTART_SPAWNED (Stopwatch reads
//                        CLOCK_MONOTONIC on Linux, one clock for both processes)
// The path loaded is the first argument, libz by default.
string path = args.Length > 0 ? args[0] : "/usr/lib/x86_64-linux-gnu/libz.so.1";

long rssStart = ResidentPages.Read();
long cpuStart = ThreadClock.CpuMicroseconds();
TimeSpan jitStart = System.Runtime.JitInfo.GetCompilationTime(currentThread: true);
long jittedStart = System.Runtime.JitInfo.GetCompiledMethodCount(currentThread: true);
long start = Stopwatch.GetTimestamp();
var library = new LoaderContext().Load(path);
long loaded = Stopwatch.GetTimestamp();
long cpuLoaded = ThreadClock.CpuMicroseconds();
TimeSpan jitLoaded = System.Runtime.JitInfo.GetCompilationTime(currentThread: true);
long jittedLoaded = System.Runtime.JitInfo.GetCompiledMethodCount(currentThread: true);
long rssLoaded = ResidentPages.Read();
library.Dispose();
long disposed = Stopwatch.GetTimestamp();
new LoaderContext().Load(path).Dispose();
long second = Stopwatch.GetTimestamp();

var invariant = CultureInfo.InvariantCulture;
Console.WriteLine($"first-load-us {Stopwatch.GetElapsedTime(start, loaded).TotalMicroseconds.ToString("F0", invariant)}");
Console.WriteLine($"first-dispose-us {Stopwatch.GetElapsedTime(loaded, disposed).TotalMicroseconds.ToString("F0", invariant)}");
Console.WriteLine($"first-load-cpu-us {cpuLoaded - cpuStart}");
Console.WriteLine($"first-load-jit-us {(jitLoaded - jitStart).TotalMicroseconds.ToString("F0", invariant)}");
Console.WriteLine($"first-load-jitted {jittedLoaded - jittedStart}");
Console.WriteLine($"first-load-rss-kb {(rssLoaded - rssStart) * Environment.SystemPageSize / 1024}");
Console.WriteLine($"second-load-us {Stopwatch.GetElapsedTime(disposed, second).TotalMicroseconds.ToString("F0", invariant)}");
if (long.TryParse(Environment.GetEnvironmentVariable("LOADER_COLDSTART_SPAWNED"), NumberStyles.None, invariant, out long spawned))
    Console.WriteLine($"since-spawn-us {Stopwatch.GetElapsedTime(spawned, loaded).TotalMicroseconds.ToString("F0", invariant)}");
return 0;

/// <summary>The resident pages of this process, the second field of /proc/self/statm, read without asking for a culture
/// (long.Parse would, and in this console that loads ICU).</summary>
internal static class ResidentPages
{
    public static long Read()
    {
        string statm = File.ReadAllText("/proc/self/statm");
        int i = statm.IndexOf(' ', StringComparison.Ordinal) + 1;
        long pages = 0;
        while (i < statm.Length && char.IsAsciiDigit(statm[i]))
            pages = pages * 10 + (statm[i++] - '0');
        return pages;
    }
}

/// <summary>CLOCK_THREAD_CPUTIME_ID: the CPU time of the calling thread.</summary>
internal static partial class ThreadClock
{
    private const int CLOCK_THREAD_CPUTIME_ID = 3;

    [System.Runtime.InteropServices.LibraryImport("libc.so.6", EntryPoint = "clock_gettime")]
    private static unsafe partial int ClockGetTime(int clock, long* timespec);

    public static unsafe long CpuMicroseconds()
    {
        long* timespec = stackalloc long[2];
        if (ClockGetTime(CLOCK_THREAD_CPUTIME_ID, timespec) != 0)
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return timespec[0] * 1_000_000 + timespec[1] / 1000;
    }
}
