using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Linking;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader deps FILE [--json]</c>: loads the library with Loader (in a fresh <see cref="LoaderContext"/>) and prints
/// its dependency tree as Loader resolved it: each DT_NEEDED with the file that satisfied it and the rule that found
/// it (<c>DT_RUNPATH of …</c>, <c>/etc/ld.so.cache</c>, <c>default directory</c>…), <c>host</c> for a library taken
/// from the process, and <c>already loaded</c> for a reuse (not expanded again). Like <c>ldd</c>, but Loader's answer.
/// </summary>
internal static class DepsCommand
{
    public static Command Create() => CommonOptions.FileCommand("deps",
        "Load a shared object with Loader and show its dependency tree: where each DT_NEEDED was found and by which rule, or that the host's copy is used.",
        "loader deps /usr/lib/x86_64-linux-gnu/libz.so.1",
        CommonOptions.Path("The shared object to load (with its dependencies, as `loader call` would)."), Run);

    public static int Run(TextWriter stdout, TextWriter stderr, string path, bool json)
    {
        DepsReport report;
        try
        {
            using var library = new LoaderContext().Load(path);
            report = Build(library);
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex))
        {
            return ElfFileRunner.Fail(stderr, path, ex);
        }

        if (json)
            CliJsonContext.Write(stdout, report, CliJsonContext.Default.DepsReport);
        else
            WriteText(stdout, report);
        return ExitCodes.Success;
    }

    internal static DepsReport Build(ElfLibrary library)
    {
        var edges = library.Dependencies;
        var expanded = new HashSet<ModuleInfo>();
        List<DepsNode> Children(ModuleInfo module)
        {
            if (!expanded.Add(module))
                return [];
            var children = new List<DepsNode>();
            foreach (var edge in edges.Where(e => e.RequestedBy == module))
            {
                var attempts = edge.Attempts.Select(a => new DepsAttempt(a.Path, a.Source, a.Outcome)).ToList();
                var below = edge.Source == DependencySource.Reused ? [] : Children(edge.Module);
                children.Add(new DepsNode(edge.Needed, edge.Module.Name, edge.Module.Path, edge.Module.SoName, (ulong)edge.Module.BaseAddress,
                    SourceName(edge.Source), edge.FoundVia, edge.Depth, attempts, below));
            }
            return children;
        }
        var root = library.Module;
        var dependencies = Children(root);
        return new DepsReport(library.Path, root.Name, root.SoName, (ulong)root.BaseAddress, library.IsHost, dependencies,
            edges.Count(e => e.Source == DependencySource.Loaded), edges.Where(e => e.Source == DependencySource.Host).Select(e => e.Module).Distinct().Count(),
            edges.Count(e => e.Source == DependencySource.Reused));
    }

    private static string SourceName(DependencySource source) => source switch
    {
        DependencySource.Loaded => "loaded",
        DependencySource.Reused => "reused",
        _ => "host",
    };

    private static void WriteText(TextWriter stdout, DepsReport report)
    {
        stdout.WriteLine(report.Host
            ? $"{report.Name} => {report.File} (host: the process's own copy at 0x{report.BaseAddress:x}; Loader maps nothing)"
            : $"{report.Name} => {report.File} (loaded at 0x{report.BaseAddress:x})");
        void Write(List<DepsNode> nodes, int depth)
        {
            foreach (var node in nodes)
            {
                string how = node.Source switch
                {
                    "host" => "host",
                    "reused" when node.FoundVia == "already loaded" => "already loaded",
                    "reused" => $"{node.FoundVia}, already loaded",
                    _ => node.FoundVia,
                };
                stdout.WriteLine($"{new string(' ', depth * 2)}{node.Needed} => {node.Path} ({how})");
                Write(node.Dependencies, depth + 1);
            }
        }
        Write(report.Dependencies, 1);
        if (report.Dependencies.Count == 0)
            stdout.WriteLine("  (no DT_NEEDED)");
        stdout.WriteLine();
        stdout.WriteLine($"{Plural(report.LoadedCount, "library", "libraries")} loaded by Loader, {Plural(report.HostCount, "host library", "host libraries")} " +
            $"(the process's own copy), {Plural(report.ReusedCount, "reuse", "reuses")} of a library already loaded.");
    }

    private static string Plural(int n, string one, string many) => $"{n} {(n == 1 ? one : many)}";
}

/// <summary>What <c>loader deps</c> prints: the library and its DT_NEEDED tree.</summary>
/// <param name="Host">True when the file given is itself a host library (its copy in the process is used).</param>
/// <param name="LoadedCount">Dependencies Loader mapped for this load.</param>
/// <param name="HostCount">Distinct host libraries taken from the process.</param>
/// <param name="ReusedCount">DT_NEEDED edges satisfied by a library already loaded.</param>
internal sealed record DepsReport(string File, string Name, string? SoName, ulong BaseAddress, bool Host, List<DepsNode> Dependencies,
    int LoadedCount, int HostCount, int ReusedCount);

/// <summary>One DT_NEEDED edge: what was asked, what satisfied it, how it was found, and its own dependencies (empty
/// for a reuse, which is shown where it was first loaded).</summary>
/// <param name="Source">loaded, reused or host.</param>
/// <param name="FoundVia">The rule that found it (<c>DT_RUNPATH of …</c>, <c>/etc/ld.so.cache</c>…), <c>host</c> or <c>already loaded</c>.</param>
/// <param name="Attempts">Every place the search tried, in order.</param>
internal sealed record DepsNode(string Needed, string Name, string Path, string? SoName, ulong BaseAddress, string Source, string FoundVia,
    int Depth, List<DepsAttempt> Attempts, List<DepsNode> Dependencies);

/// <summary>One candidate path the search tried: where it came from and what it was.</summary>
internal sealed record DepsAttempt(string Path, string Source, string Outcome);
