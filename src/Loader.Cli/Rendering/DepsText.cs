using Loader.Cli.Commands;

namespace Loader.Cli.Rendering;

/// <summary>
/// <c>loader deps</c> for people: an ldd-like tree, two spaces per level (<c>needed => path (how)</c>), each library
/// expanded where it first appears; missing and unusable ones in capitals; with <c>--verbose</c> every place the
/// search tried under each library; then one line that counts the distinct libraries.
/// </summary>
internal static class DepsText
{
    public static void Write(TextWriter stdout, DepsReport report, bool verbose)
    {
        stdout.WriteLine(report.Host
            ? $"{report.Name} => {report.File} (host: {(report.HostBaseAddress is { } b ? $"a load uses the process's own copy at 0x{b:x}" : "a load has the system loader load it")})"
            : $"{report.Name} => {report.File}");
        WriteNodes(stdout, report.Dependencies, 1, verbose, new HashSet<string>(StringComparer.Ordinal));
        if (report.Dependencies.Count == 0)
            stdout.WriteLine("  (no DT_NEEDED)");
        stdout.WriteLine();
        stdout.WriteLine(Summary(report.Summary));
        stdout.WriteLine("Nothing was loaded or run: each file's dynamic section was read from the file.");
    }

    internal static string Summary(DepsSummary s)
    {
        string text = $"{Count(s.Libraries, "library", "libraries")}: {s.Found} found, {s.Host} from the host, {s.Missing} missing";
        if (s.Unusable > 0)
            text += $", {s.Unusable} unusable";
        return text + $"; {Count(s.Repeats, "DT_NEEDED entry", "DT_NEEDED entries")} named a library already listed.";
    }

    /// <summary>Each library is expanded under the DT_NEEDED that brought it in first (breadth-first, the shallowest);
    /// a later one says whether that is above or below.</summary>
    private static void WriteNodes(TextWriter stdout, List<DepsNode> nodes, int depth, bool verbose, HashSet<string> printed)
    {
        string indent = new(' ', depth * 2);
        foreach (var node in nodes)
        {
            string key = node.Path ?? node.Needed;
            bool above = node.Status == "reused" ? printed.Contains(key) : printed.Add(key);
            stdout.WriteLine($"{indent}{node.Needed} => {Describe(node, verbose, above)}");
            if (verbose && node.Status != "reused")
            {
                if (node.Attempts.Count == 0 && node.Library == "host")
                    stdout.WriteLine($"{indent}    (not searched: the process's copy)");
                foreach (var a in node.Attempts)
                    stdout.WriteLine($"{indent}    tried {a.Path} ({a.Source}): {a.Outcome}");
            }
            WriteNodes(stdout, node.Dependencies, depth + 1, verbose, printed);
        }
    }

    private static string Describe(DepsNode node, bool verbose, bool above)
    {
        string where = above ? "listed above" : "listed below";
        if (node.Status == "reused")
            return node.Library switch
            {
                "missing" => $"not found ({where})",
                "unusable" => $"{node.Path} (UNUSABLE, {where})",
                _ => $"{node.Path} ({node.Library}, {where})",
            };
        return node.Status switch
        {
            "missing" => $"not found (MISSING: {Count(node.Attempts.Count, "place", "places")} searched{(verbose ? "" : "; --verbose lists them")})",
            "unusable" => $"{node.Path ?? "?"} (UNUSABLE: {node.Error})",
            "host" when node.FoundVia == "host" => $"{node.Path} (host)",
            _ => $"{node.Path} ({node.FoundVia})",
        };
    }

    private static string Count(int n, string one, string many) => $"{n} {(n == 1 ? one : many)}";
}
