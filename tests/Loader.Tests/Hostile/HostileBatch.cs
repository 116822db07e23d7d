using Loader.Hostile;
using Loader.Tests.Oracles;

namespace Loader.Tests.Hostile;

/// <summary>What became of one input in one entry point.</summary>
/// <param name="Outcome">accepted, refused, escaped (an exception other than a LoaderException), crashed (the child
/// died while running it), hung (the child was killed after the timeout while running it).</param>
/// <param name="Type">The exception's type (refused, escaped).</param>
/// <param name="Field">The field an <see cref="ElfFieldException"/> named (refused).</param>
/// <param name="Detail">The message, the frames, or the child's exit and standard error.</param>
/// <param name="Leak">What of the input was left mapped or open after it ran; empty when nothing.</param>
internal sealed record InputOutcome(string Input, EntryPoint Entry, string Outcome, string Type, string Field, string Detail, string Leak)
{
    /// <summary>The contract holds: accepted or refused, and nothing left behind.</summary>
    public bool Clean => Outcome is "accepted" or "refused" && Leak.Length == 0;

    public override string ToString() =>
        $"{Entry} {Path.GetFileName(Input)}: {Outcome}{(Type.Length > 0 ? " " + Type : "")}{(Field.Length > 0 ? $" [{Field}]" : "")}"
        + $"{(Detail.Length > 0 ? ": " + Detail : "")}{(Leak.Length > 0 ? " LEAKED " + Leak : "")}";
}

/// <summary>
/// Runs inputs through an <see cref="EntryPoint"/> in child processes (<see cref="HostileBatchChild"/>), one child per
/// batch. The child names each input in a progress file before running it, so when it dies or hangs the input is
/// known: it is reported as crashed or hung, and a new child goes on with the rest of the batch.
/// </summary>
internal static class HostileBatch
{
    /// <summary>How long one child may take, per input it is given, beyond its start.</summary>
    private static readonly TimeSpan PerInput = TimeSpan.FromSeconds(0.5), Start = TimeSpan.FromSeconds(30);

    /// <summary>The outcome of every input, in order. <paramref name="timeout"/> replaces the budget of each child
    /// (a test of a hang uses a short one).</summary>
    public static IReadOnlyList<InputOutcome> Run(EntryPoint entry, IReadOnlyList<string> inputs, string? fault = null, TimeSpan? timeout = null)
    {
        string work = Directory.CreateTempSubdirectory($"loader-batch-{entry}-").FullName;
        try
        {
            var outcomes = new List<InputOutcome>();
            var remaining = inputs.ToList();
            for (int child = 0; remaining.Count > 0; child++)
            {
                string list = Path.Combine(work, $"inputs-{child}"), progress = Path.Combine(work, $"progress-{child}");
                File.WriteAllLines(list, remaining);
                File.WriteAllText(progress, "");
                var arguments = new List<string> { typeof(HostileBatch).Assembly.Location, HostileBatchChild.Scenario, entry.ToString(), progress, list };
                if (fault is not null)
                    arguments.Add(fault);

                ChildProcess.Result? result = null;
                string? hung = null;
                try
                {
                    result = ChildProcess.Run("dotnet", arguments, Environment, timeout: timeout ?? Start + PerInput * remaining.Count);
                }
                catch (TimeoutException e)
                {
                    hung = e.Message;
                }

                string? current = null;
                foreach (string line in File.ReadAllLines(progress))
                {
                    var f = line.Split('\t');
                    if (f[0] == "begin")
                        current = f[1];
                    else if (f[0] == "end" && f.Length == 7)
                    {
                        outcomes.Add(new InputOutcome(f[1], entry, f[2], f[3], f[4], f[5], f[6]));
                        current = null;
                    }
                }
                int done = outcomes.Count - (inputs.Count - remaining.Count);
                if (current is not null)
                {
                    string detail = hung ?? $"exit code {result!.ExitCode}; stderr: {Tail(result.Stderr)}";
                    outcomes.Add(new InputOutcome(current, entry, hung is null ? "crashed" : "hung", "", "", detail, ""));
                    done++;
                }
                else if (done < remaining.Count)
                {
                    // The child died between inputs (or never started): that is no input's fault, but the batch failed.
                    throw new InvalidOperationException(
                        $"hostile-batch child for {entry} stopped after {done} of {remaining.Count} inputs without naming one: " +
                        (hung ?? $"exit code {result!.ExitCode}; stdout: {Tail(result.Stdout)}; stderr: {Tail(result.Stderr)}"));
                }
                else if (result is { ExitCode: not 0 })
                {
                    // Every input ran, then the child failed on the way out (a finalizer, an unload at exit).
                    throw new InvalidOperationException(
                        $"hostile-batch child for {entry} ran all {done} inputs, then exited with code {result.ExitCode}: {Tail(result.Stderr)}");
                }
                remaining.RemoveRange(0, done);
            }
            return outcomes;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The child's environment: the runtime's own mappings should move as little as possible while an input
    /// runs (no W^X double mapping of JIT code, no background recompilation), so that a new anonymous range is Loader's.</summary>
    private static readonly IReadOnlyDictionary<string, string?> Environment = new Dictionary<string, string?>
    {
        ["DOTNET_EnableWriteXorExecute"] = "0",
        ["DOTNET_TieredCompilation"] = "0",
        ["DOTNET_gcServer"] = "0",
        ["DOTNET_GCgen0size"] = "0x4000000",
    };

    private static string Tail(string text) => text.Length <= 1500 ? text.Trim() : "..." + text[^1500..].Trim();
}
