using System.Runtime.InteropServices;
using Loader;
using Loader.Hostile;

namespace Loader.Fuzz;

/// <summary>
/// The AFL harness for the hostile-input contract (<see cref="EntryPoints"/>): every input is accepted or refused with
/// a <see cref="LoaderException"/>; anything else escaping, or a mapping or descriptor of the input left behind, is a
/// crash for AFL. Crashes and hangs AFL saves are triaged with <c>--replay</c>, which needs no AFL.
/// </summary>
public static class Program
{
    const string Usage = """
        usage: Loader.Fuzz <open|map|load>                       run under afl-fuzz (input on stdin)
               Loader.Fuzz <open|map|load> --replay FILE...      run each file once and say what happened
        """;

    /// <summary>The size of AFL's coverage map that SharpFuzz's instrumentation indexes (64 KiB).</summary>
    const int TraceMapSize = 1 << 16;

    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Enum.TryParse(args[0], ignoreCase: true, out EntryPoint target)
            || !Enum.IsDefined(target) || args.Length == 2 || (args.Length > 2 && args[1] != "--replay"))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        return args.Length == 1 ? Fuzz(target) : Replay(target, args[2..]);
    }

    /// <summary>SharpFuzz's out-of-process loop: this process is AFL's fork server and runs the inputs in one child
    /// process, restarted only when it dies. In-process (<c>Fuzzer.Run</c>) a hang AFL kills, or a signal, would end
    /// the whole session, and both are findings here (relocations write into mapped memory).</summary>
    static int Fuzz(EntryPoint target)
    {
        // Loader takes paths, not bytes: each input goes to a file of this process's own, in memory when possible.
        string input = InputPath(0);
        try
        {
            SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
            {
                using (var file = new FileStream(input, FileMode.Create, FileAccess.Write, FileShare.ReadWrite))
                    stream.CopyTo(file);
                try
                {
                    RunChecked(target, input);
                }
                catch
                {
                    // A run that escaped may have left the input mapped or open, and every later run would then be
                    // blamed for it. The child ends instead; SharpFuzz reports the crash and starts a clean one.
                    ExitImmediately(1);
                }
            });
        }
        finally
        {
            File.Delete(input);
        }
        return 0;
    }

    /// <summary>Runs each file as AFL ran it (the same checks) and prints what happened, one line per file plus the
    /// stack of an escape; exits 1 when any input escaped the contract (2 when a file could not be read). Each file is copied to a path of its own, so
    /// what one leaks is not blamed on the next.</summary>
    static unsafe int Replay(EntryPoint target, string[] files)
    {
        // The instrumented Loader.dll counts every branch into AFL's map; outside AFL it needs a map of its own
        // (SharpFuzz's loop would provide one, replay does not run that loop). Kept for the process's lifetime.
        SharpFuzz.Common.Trace.SharedMem = (byte*)NativeMemory.AllocZeroed(TraceMapSize);
        int escaped = 0, unreadable = 0;
        for (int i = 0; i < files.Length; i++)
        {
            string file = files[i], input = InputPath(i);
            try
            {
                File.Copy(file, input, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"{file}: cannot read: {e.Message}");
                unreadable++;
                continue;
            }
            try
            {
                var refused = RunChecked(target, input);
                Console.WriteLine(refused is null
                    ? $"{file}: accepted"
                    : $"{file}: refused: {refused.GetType().Name}: {refused.Message}");
            }
            catch (Exception e)
            {
                escaped++;
                Console.WriteLine($"{file}: ESCAPED: {e.GetType().FullName}: {e.Message}");
                Console.WriteLine(Indent(e.ToString()));
                if (e is not ContractViolationException && Leak(input) is { } leak)
                    Console.WriteLine($"    and after it: {leak}");
            }
            finally
            {
                File.Delete(input);
            }
        }
        return escaped > 0 ? 1 : unreadable > 0 ? 2 : 0;
    }

    /// <summary><see cref="EntryPoints.Run"/>, then the leak checks: the promise covers what a refusal (or a
    /// disposed load) leaves behind, and a leak grows unnoticed across the fuzzer's millions of runs.</summary>
    static LoaderException? RunChecked(EntryPoint target, string path)
    {
        var refused = EntryPoints.Run(target, path);
        if (Leak(path) is { } leak)
            throw new ContractViolationException($"{leak} after {target} returned");
        return refused;
    }

    /// <summary>What is left of <paramref name="path"/> in this process (a mapping, or a descriptor), or null.</summary>
    static string? Leak(string path) =>
        MappingOf(path) is { } mapping ? $"{path} still mapped: {mapping}"
        : DescriptorOf(path) is { } fd ? $"{path} still open as descriptor {fd}"
        : null;

    static string InputPath(int index)
    {
        // /dev/shm keeps the write per input off the disk; TMPDIR wins when set, for machines without it.
        string directory = Environment.GetEnvironmentVariable("TMPDIR") is { Length: > 0 } tmp ? tmp
            : Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        return Path.Combine(directory, $"loader-fuzz-{Environment.ProcessId}-{index}.so");
    }

    /// <summary>The first line of /proc/self/maps that maps <paramref name="path"/>, or null.</summary>
    static string? MappingOf(string path)
    {
        foreach (string line in File.ReadLines("/proc/self/maps"))
            if (line.EndsWith(path, StringComparison.Ordinal) || line.EndsWith(path + " (deleted)", StringComparison.Ordinal))
                return line;
        return null;
    }

    /// <summary>The number of an open descriptor of <paramref name="path"/>, or null.</summary>
    static string? DescriptorOf(string path)
    {
        foreach (string fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target = new FileInfo(fd).LinkTarget;
            if (target == path || target == path + " (deleted)")
                return Path.GetFileName(fd);
        }
        return null;
    }

    /// <summary>Ends the process without unwinding or finalizers: nothing of a possibly corrupted state runs.</summary>
    [DllImport("libc", EntryPoint = "_exit")]
    static extern void ExitImmediately(int status);

    static string Indent(string text) => "    " + text.ReplaceLineEndings(Environment.NewLine + "    ");
}

/// <summary>A breach of the contract that no exception from Loader shows: a leak found after the entry point returned.</summary>
public sealed class ContractViolationException(string message) : Exception(message);
