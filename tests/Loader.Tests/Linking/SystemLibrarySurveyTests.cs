using System.Text.Json;
using Loader.Tests.Cli;
using Loader.Tests.Oracles;
using Xunit.Abstractions;

namespace Loader.Tests.Linking;

/// <summary>
/// Every shared object in the system folder and below it, tried the way a new user would: glibc's
/// <c>dlopen(RTLD_NOW | RTLD_LOCAL)</c> in a child process per file (tests/fixtures/tools/dlopen_each.c) is the oracle;
/// Loader, through <c>loader try --json</c> in child processes, with initializers off and on. Loader must load every
/// file glibc loads (its own copy, or the host's), refuse every file glibc refuses, and never end the process — except
/// where the library's own initializer ends it, as it ends glibc's child. The one allowed difference: a library whose
/// own initial-exec TLS does not fit static TLS, refused in glibc's words.
/// </summary>
public sealed class SystemLibrarySurveyTests(ITestOutputHelper output)
{
    private const string StaticTlsFull = "cannot allocate memory in static TLS block";

    private sealed record Outcome(string Kind, string Detail);

    [Fact]
    public void Loader_loads_every_system_library_glibc_loads_and_refuses_the_rest()
    {
        var files = SystemLibraries.SharedObjects(recursive: true);
        Assert.True(files.Count > 300, $"only {files.Count} shared objects under {SystemLibraries.Directory}");
        var glibc = Glibc(files);
        Assert.Equal(files.Count, glibc.Count);
        output.WriteLine($"{files.Count} files; glibc: {Count(glibc, "loaded")} loaded, {Count(glibc, "refused")} refused, " +
            $"{Count(glibc, "died")} ended its child (an initializer exited or crashed)");

        var problems = new List<string>();
        foreach (bool initializers in new[] { false, true })
        {
            var ours = Loader(files, initializers);
            string mode = initializers ? "initializers on" : "initializers off";
            output.WriteLine($"Loader, {mode}: {Count(ours, "loaded")} loaded, {Count(ours, "host")} host copies, " +
                $"{Count(ours, "refused")} refused, {Count(ours, "died")} ended the process");
            foreach (var group in ours.Values.Where(o => o.Kind == "refused").GroupBy(o => Reason(o.Detail)).OrderByDescending(g => g.Count()))
                output.WriteLine($"  refused, {group.Count()}× {group.Key}");
            foreach (string file in files)
            {
                var (theirs, mine) = (glibc[file], ours[file]);
                string? problem = (theirs.Kind, mine.Kind) switch
                {
                    ("loaded", "loaded" or "host") => null,
                    ("loaded", "refused") when mine.Detail.Contains(StaticTlsFull, StringComparison.Ordinal) => null,
                    ("loaded", _) => $"glibc loads it; Loader {mine.Kind}: {mine.Detail}",
                    ("refused", "refused") => null,
                    ("refused", _) => $"glibc refuses it ({theirs.Detail}); Loader {mine.Kind}",
                    ("died", "died") when initializers => null, // its own initializer ended both processes
                    ("died", "loaded" or "host" or "refused") => null, // glibc ran its initializer; without it, or before it, Loader did not
                    _ => $"glibc {theirs.Kind} ({theirs.Detail}); Loader {mine.Kind} ({mine.Detail})",
                };
                if (problem is not null)
                    problems.Add($"{mode}: {file}: {problem}");
            }
        }
        Assert.True(problems.Count == 0, string.Join('\n', problems.Take(40)));
    }

    private static int Count(Dictionary<string, Outcome> outcomes, string kind) => outcomes.Values.Count(o => o.Kind == kind);

    private static string Reason(string message)
    {
        // The part that names the rule, not the file or the symbol: "undefined symbol", "PT_TLS ...: cannot allocate...".
        foreach (string known in new[] { StaticTlsFull, "undefined symbol", "not found; looked in", "has DF_1_PIE" })
            if (message.Contains(known, StringComparison.Ordinal))
                return known;
        return message;
    }

    private static Dictionary<string, Outcome> Glibc(IReadOnlyList<string> files)
    {
        var result = ChildProcess.Run(Fixtures.Path("tools/dlopen_each"), [], standardInput: string.Join('\n', files) + "\n",
            timeout: TimeSpan.FromMinutes(5));
        Assert.True(result.ExitCode == 0, result.Stderr);
        var outcomes = new Dictionary<string, Outcome>(StringComparer.Ordinal);
        foreach (string line in result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t', 3);
            outcomes[fields[1]] = new Outcome(fields[0], fields.Length > 2 ? fields[2] : "");
        }
        return outcomes;
    }

    /// <summary><c>loader try --json</c> over the files; when a child ends without reporting a file, that file ended it
    /// ("died"), and a new child goes on from the next one.</summary>
    private static Dictionary<string, Outcome> Loader(IReadOnlyList<string> files, bool initializers)
    {
        var outcomes = new Dictionary<string, Outcome>(StringComparer.Ordinal);
        int next = 0;
        while (next < files.Count)
        {
            string[] args = ["try", "--json", .. initializers ? ["--initializers"] : Array.Empty<string>(), .. files.Skip(next)];
            var result = LoaderProcess.Run(args);
            foreach (string line in result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                string file = root.GetProperty("file").GetString()!;
                Assert.Equal(files[next], file);
                outcomes[file] = new Outcome(root.GetProperty("outcome").GetString()!, root.GetProperty("reason").GetString() ?? "");
                next++;
            }
            if (next == files.Count)
            {
                Assert.True(result.ExitCode is 0 or 1, $"loader try reported every file, then exited {result.ExitCode}:\n{result.Stderr}");
                break;
            }
            // The child ended before it reported files[next]: loading that file ended it (an initializer's exit, a crash).
            outcomes[files[next]] = new Outcome("died", $"exit {result.ExitCode}: {LastLine(result.Stderr)}");
            next++;
        }
        return outcomes;
    }

    private static string LastLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
}
