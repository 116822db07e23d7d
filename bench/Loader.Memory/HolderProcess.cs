using System.Diagnostics;
using System.Globalization;

namespace Loader.Memory;

/// <summary>What one side's holder process reported, and the samples taken of it from outside.</summary>
internal sealed class HolderResult
{
    public required string Side { get; init; }
    public int Loaded { get; set; }
    public int Failed { get; set; }
    public MemorySample? Before { get; set; }
    /// <summary>After every load, with no collection forced (what a host would see).</summary>
    public MemorySample? After { get; set; }
    /// <summary>Loader only: after a full blocking collection.</summary>
    public MemorySample? AfterCollect { get; set; }
    public List<(ulong Start, ulong Length)> Images { get; } = [];
    public Dictionary<string, long> Figures { get; } = [];
}

/// <summary>
/// Runs one holder (the Loader child or the C glibc-holder) and speaks its line protocol: on each of <c>before</c>,
/// <c>after …</c> and <c>collected</c> it samples the child's /proc files, then answers with a line so the child goes
/// on; <c>image START LENGTH</c> and <c>figure NAME VALUE</c> lines are collected; <c>end</c> ends it.
/// </summary>
internal static class HolderProcess
{
    public static HolderResult Run(string side, string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {fileName}");
        var errors = new List<string>();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (errors) errors.Add(e.Data); };
        process.BeginErrorReadLine();
        var result = new HolderResult { Side = side };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var read = process.StandardOutput.ReadLineAsync();
            if (!read.Wait(deadline - DateTime.UtcNow))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{side} holder did not finish within {timeout}");
            }
            string? line = read.Result;
            if (line is null)
            {
                process.WaitForExit();
                string stderr;
                lock (errors)
                    stderr = string.Join('\n', errors.TakeLast(20));
                throw new InvalidOperationException($"{side} holder ended early (exit {process.ExitCode}):\n{stderr}");
            }
            var parts = line.Split(' ');
            switch (parts[0])
            {
                case "before":
                    result.Before = MemorySample.Read(process.Id);
                    Answer(process);
                    break;
                case "after":
                    result.Loaded = int.Parse(parts[1], CultureInfo.InvariantCulture);
                    result.Failed = int.Parse(parts[2], CultureInfo.InvariantCulture);
                    result.After = MemorySample.Read(process.Id);
                    Answer(process);
                    break;
                case "collected":
                    result.AfterCollect = MemorySample.Read(process.Id);
                    Answer(process);
                    break;
                case "image":
                    result.Images.Add((ulong.Parse(parts[1], CultureInfo.InvariantCulture), ulong.Parse(parts[2], CultureInfo.InvariantCulture)));
                    break;
                case "figure":
                    result.Figures[parts[1]] = long.Parse(parts[2], CultureInfo.InvariantCulture);
                    break;
                case "end":
                    Answer(process);
                    process.WaitForExit();
                    return result;
                default:
                    Console.Error.WriteLine($"[{side}] {line}");
                    break;
            }
        }
    }

    private static void Answer(Process process)
    {
        process.StandardInput.WriteLine("go");
        process.StandardInput.Flush();
    }
}
