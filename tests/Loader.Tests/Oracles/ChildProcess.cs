using System.Diagnostics;

namespace Loader.Tests.Oracles;

/// <summary>
/// The one way tests run another program (readelf, ldd, gcc, ldconfig, strace, a compiled C oracle, the built
/// <c>loader</c> tool): arguments passed as a list (no shell quoting), in the C locale, with optional environment
/// changes and standard input, a timeout, and both output streams captured.
/// </summary>
public static class ChildProcess
{
    /// <summary>How long a child may run before it is killed and the test fails.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary>What one run printed and how it exited.</summary>
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs <paramref name="fileName"/> with <paramref name="arguments"/> and the defaults: no environment
    /// changes, no standard input, <see cref="DefaultTimeout"/>.</summary>
    public static Result Run(string fileName, params string[] arguments) => Run(fileName, (IReadOnlyList<string>)arguments);

    /// <summary>
    /// Runs <paramref name="fileName"/> (looked up in PATH unless it has a '/') to completion.
    /// <paramref name="environment"/> sets variables, or removes those whose value is null. Unless it says otherwise,
    /// LC_ALL and LANG are C (messages and numbers are the ones the tests parse) and LD_LIBRARY_PATH and LD_DEBUG are unset. <paramref name="standardInput"/>,
    /// when given, is written and then closed; otherwise the child's stdin is this process's. Throws
    /// <see cref="TimeoutException"/> (after killing the child's process tree) when it runs longer than
    /// <paramref name="timeout"/>.
    /// </summary>
    public static Result Run(
        string fileName,
        IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? standardInput = null,
        TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput is not null,
            UseShellExecute = false,
        };
        Prepare(start, arguments);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
                start.Environment.Remove(name);
            else
                start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        // Each stream on a thread of its own, not the thread pool: tests run many children from Parallel.ForEach, and
        // pool-based reads starved the pool there (6x slower). Reading both at once also keeps a child that fills one
        // pipe from blocking while we wait on the other.
        string stdout = "", stderr = "";
        var outputReader = new Thread(() => stdout = process.StandardOutput.ReadToEnd()) { IsBackground = true, Name = $"{fileName} stdout" };
        var errorReader = new Thread(() => stderr = process.StandardError.ReadToEnd()) { IsBackground = true, Name = $"{fileName} stderr" };
        outputReader.Start();
        errorReader.Start();
        if (standardInput is not null)
        {
            try
            {
                process.StandardInput.Write(standardInput);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The child exited (or closed stdin) without reading it all: its exit code and output still tell.
            }
        }

        TimeSpan limit = timeout ?? DefaultTimeout;
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish in {limit}");
        }
        outputReader.Join();
        errorReader.Join();
        process.WaitForExit();
        return new Result(process.ExitCode, stdout, stderr);
    }

    /// <summary>
    /// Starts <paramref name="fileName"/> in the background, with the same environment rules as <see cref="Run"/>
    /// and its output discarded, for a test that examines it while it runs (gdb attaching to it). The caller kills it.
    /// </summary>
    public static Process Start(string fileName, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(fileName) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        Prepare(start, arguments);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>The arguments, and the environment every child gets: LC_ALL and LANG are C (the messages and numbers the
    /// tests parse); LD_LIBRARY_PATH and LD_DEBUG are unset, since glibc's own answers (ldd, dlopen in a C oracle) must
    /// be this machine's, not shaped by how the tests were run.</summary>
    private static void Prepare(ProcessStartInfo start, IReadOnlyList<string> arguments)
    {
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment["LC_ALL"] = "C";
        start.Environment["LANG"] = "C";
        start.Environment.Remove("LD_LIBRARY_PATH");
        start.Environment.Remove("LD_DEBUG");
    }
}
