using System.CommandLine;
using Loader.Cli.Rendering;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader deps FILE [--verbose] [--json]</c>: the dependency tree a load of FILE would resolve, without loading
/// anything (<see cref="DependencyTreeReader"/>: each file's DT_NEEDED read with a pread copy, searched with the
/// load's own search). Each DT_NEEDED with the file that satisfies it and the rule that found it, <c>host</c> for a
/// library a load takes from the process; a library that cannot be found or read is marked with the reason and the
/// rest of the tree is still shown (exit 1). Like <c>ldd</c>, but Loader's answer, and nothing of the library runs.
/// </summary>
internal static class DepsCommand
{
    public static Command Create()
    {
        var file = CommonOptions.Path("The shared object whose dependencies to resolve (read, never loaded).");
        var json = CommonOptions.Json();
        var verbose = new Option<bool>("--verbose", "-v") { Description = "List every place the search tried for each library." };
        var command = CommonOptions.NewCommand("deps",
            "Show a shared object's dependency tree as a load would resolve it — where each DT_NEEDED is found and by which rule, " +
            "or that the host's copy is used — without loading or running anything. Exit 1 when a library in the tree is missing or unusable.",
            "loader deps /usr/lib/x86_64-linux-gnu/libcurl.so.4 --verbose");
        command.Add(file);
        command.Add(json);
        command.Add(verbose);
        command.SetAction(parseResult => Run(parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error,
            parseResult.GetRequiredValue(file), parseResult.GetValue(json), parseResult.GetValue(verbose)));
        return command;
    }

    public static int Run(TextWriter stdout, TextWriter stderr, string path, bool json, bool verbose = false)
    {
        var reader = new DependencyTreeReader();
        TreeLibrary root;
        try
        {
            root = reader.Read(path);
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex))
        {
            return ElfFileRunner.Fail(stderr, path, ex);
        }
        var report = Build(root, reader.Libraries);

        if (json)
            CliJsonContext.Write(stdout, report, CliJsonContext.Default.DepsReport);
        else
            DepsText.Write(stdout, report, verbose);

        var failed = reader.Libraries.Where(l => l.Status is TreeStatus.Missing or TreeStatus.Unusable).ToList();
        if (failed.Count == 0)
            return ExitCodes.Success;
        foreach (var library in failed)
        {
            string neededBy = string.Join(", ", NeededBy(root, library).Distinct());
            stderr.WriteLine(library.Status == TreeStatus.Missing
                ? $"loader: {path}: {library.Needed} (needed by {neededBy}) not found; {library.Attempts.Count} places searched"
                : $"loader: {path}: {library.Needed} (needed by {neededBy}) cannot be loaded: {library.Error}");
        }
        return ExitCodes.BadFile;
    }

    private static IEnumerable<string> NeededBy(TreeLibrary root, TreeLibrary library)
    {
        var seen = new HashSet<TreeLibrary>();
        var stack = new Stack<TreeLibrary>([root]);
        while (stack.TryPop(out var current))
        {
            if (!seen.Add(current))
                continue;
            foreach (var edge in current.Edges)
            {
                if (edge.Library == library)
                    yield return current.Name;
                stack.Push(edge.Library);
            }
        }
    }

    internal static DepsReport Build(TreeLibrary root, IReadOnlyList<TreeLibrary> libraries)
    {
        List<DepsNode> Children(TreeLibrary library)
        {
            var children = new List<DepsNode>();
            foreach (var edge in library.Edges)
            {
                var target = edge.Library;
                string status = edge.First ? StatusName(target.Status) : "reused";
                var attempts = edge.First ? target.Attempts.Select(a => new DepsAttempt(a.Path, a.Source, a.Outcome)).ToList() : [];
                children.Add(new DepsNode(edge.Needed, status, StatusName(target.Status), target.Name, target.Path, target.SoName,
                    (ulong?)target.HostBase, edge.First ? target.FoundVia : null, target.Error, target.Depth, attempts,
                    edge.First ? Children(target) : []));
            }
            return children;
        }
        var dependencies = Children(root);
        var summary = new DepsSummary(libraries.Count,
            libraries.Count(l => l.Status == TreeStatus.Found), libraries.Count(l => l.Status == TreeStatus.Host),
            libraries.Count(l => l.Status == TreeStatus.Missing), libraries.Count(l => l.Status == TreeStatus.Unusable),
            CountEdges(root) - libraries.Count);
        return new DepsReport(root.Path!, root.Name, root.SoName, root.Status == TreeStatus.Host, (ulong?)root.HostBase, dependencies, summary);
    }

    private static int CountEdges(TreeLibrary root)
    {
        var seen = new HashSet<TreeLibrary>();
        var stack = new Stack<TreeLibrary>([root]);
        int edges = 0;
        while (stack.TryPop(out var current))
        {
            if (!seen.Add(current))
                continue;
            edges += current.Edges.Count;
            foreach (var edge in current.Edges)
                stack.Push(edge.Library);
        }
        return edges;
    }

    internal static string StatusName(TreeStatus status) => status switch
    {
        TreeStatus.Found => "found",
        TreeStatus.Host => "host",
        TreeStatus.Missing => "missing",
        _ => "unusable",
    };
}
