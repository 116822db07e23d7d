using System.Diagnostics;

namespace Loader.BenchShared;

/// <summary>Runs a program to its end for the benchmark tools (a build, a compile, a generator script): what it printed
/// on standard output, or an exception with everything it printed when it fails.</summary>
internal static class ChildProcess
{
    public static string Run(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stderr = process.StandardError.ReadToEndAsync(); // both pipes drained at once: neither fills and stalls it
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} exited with {process.ExitCode}: {stdout}{stderr.Result}");
        return stdout;
    }
}
