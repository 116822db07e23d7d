using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Elf;
using Loader.Linking;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader bind FILE SYMBOL[@VERSION] [--json]</c> and <c>loader bind FILE --all [--json]</c>. Loads the library with
/// Loader, running none of its code (<see cref="InspectOnly"/>: no initializers, no IFUNC resolvers of what Loader
/// maps), and says how its references bind. For one symbol (<see cref="ElfLibrary.Explain"/>): with no version given,
/// the one the library's own relocation asks for (what <c>LD_DEBUG=bindings</c> shows), else the provider's default;
/// every module of its scope in search order, what each defines, the winner with its address and version. With
/// <c>--all</c>: every symbol its relocations bound (<see cref="ElfLibrary.Relocations"/>), with version, provider and
/// address — <c>LD_DEBUG=bindings</c> as a table. Exit 1 when nothing provides the symbol.
/// </summary>
internal static class BindCommand
{
    /// <summary>How <c>bind</c> loads: nothing of the library runs.</summary>
    internal static LoadOptions InspectOnly { get; } = new() { RunInitializers = false, RunResolvers = false };

    public static Command Create()
    {
        var file = CommonOptions.Path("The shared object whose references are bound (loaded with its dependencies; none of its code runs).");
        var symbol = new Argument<string?>("SYMBOL")
        {
            Description = "The symbol, optionally with a version: memcpy, memcpy@GLIBC_2.14, compute@VERS_1. Without a version, the one "
                + "the library's relocation asks for (or, if it has none, the provider's default). Omit it with --all.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var all = new Option<bool>("--all") { Description = "List every symbol the library's relocations bind: version, provider, address (LD_DEBUG=bindings as a table)." };
        var json = CommonOptions.Json();
        var command = CommonOptions.NewCommand("bind",
            "Show which library in a shared object's scope provides a symbol, at what address and version, and why: each module searched in order and what it has. "
            + "With --all, every binding of the library. Runs none of the library's code.",
            "loader bind /usr/lib/x86_64-linux-gnu/libz.so.1 memcpy   (or: loader bind /usr/lib/x86_64-linux-gnu/libz.so.1 --all)");
        command.Add(file);
        command.Add(symbol);
        command.Add(all);
        command.Add(json);
        command.Validators.Add(result =>
        {
            string? text = result.GetValue(symbol);
            bool everything = result.GetValue(all);
            if (text is null && !everything)
                result.AddError("give a SYMBOL, or --all for every binding");
            else if (text is not null && everything)
                result.AddError($"give a SYMBOL or --all, not both ('{text}' and --all)");
            else if (text is not null && !TrySplit(text, out _, out _, out string? error))
                result.AddError(error);
        });
        command.SetAction(parseResult =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            string path = parseResult.GetRequiredValue(file);
            return parseResult.GetValue(all)
                ? BindAll.Run(stdout, stderr, path, parseResult.GetValue(json))
                : Run(stdout, stderr, path, parseResult.GetValue(symbol)!, parseResult.GetValue(json));
        });
        return command;
    }

    /// <summary><c>name@VERSION</c> (or <c>name@@VERSION</c>) into its parts; the version is null without one.</summary>
    internal static bool TrySplit(string text, out string name, out string? version, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        int at = text.IndexOf('@');
        name = at < 0 ? text : text[..at];
        version = at < 0 ? null : text[(at + 1)..].TrimStart('@');
        error = name.Length == 0 ? $"symbol '{text}': the name is empty"
            : version is { Length: 0 } ? $"symbol '{text}': the version after '@' is empty"
            : null;
        return error is null;
    }

    /// <summary>
    /// Loads <paramref name="path"/> running none of its code (<see cref="InspectOnly"/>), builds a report from the
    /// library, and unloads it; a file or load problem is one line on stderr and exit 1.
    /// </summary>
    internal static int Inspect<TReport>(string path, TextWriter stderr, Func<ElfLibrary, TReport> build, out TReport report)
    {
        report = default!;
        try
        {
            using var context = new LoaderContext();
            using var library = context.Load(path, InspectOnly);
            report = build(library);
            return ExitCodes.Success;
        }
        catch (RelocationException ex)
        {
            stderr.WriteLine($"loader: {ex.Message} (loader bind runs no code of the library: an IFUNC resolver in it was not run)");
            return ExitCodes.BadFile;
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex))
        {
            return ElfFileRunner.Fail(stderr, path, ex);
        }
    }

    public static int Run(TextWriter stdout, TextWriter stderr, string path, string symbolText, bool json)
    {
        if (!TrySplit(symbolText, out string name, out string? version, out string? usage))
        {
            stderr.WriteLine(usage);
            return ExitCodes.Usage;
        }
        int failed = Inspect(path, stderr, library =>
        {
            var choice = VersionChoice.For(library, name, version);
            return Build(library.Explain(name, choice.Version), choice);
        }, out BindReport report);
        if (failed != ExitCodes.Success)
            return failed;

        if (json)
            CliJsonContext.Write(stdout, report, CliJsonContext.Default.BindReport);
        else
            BindText.Write(stdout, report);
        if (report.Provider is null)
        {
            stderr.WriteLine($"loader: {path}: no module in its scope provides '{symbolText}' " +
                $"({(report.RequestedVersion is null ? "any version" : "version " + report.RequestedVersion)}; {report.Scope.Count} modules searched)");
            return ExitCodes.BadFile;
        }
        return ExitCodes.Success;
    }

    internal static BindReport Build(BindingExplanation explained, VersionChoice choice)
    {
        var probes = explained.Scope.Select((p, i) => new BindProbe(i + 1, p.Part == ScopePart.Global ? "global" : "local", p.Module.Name, p.Module.Path,
            p.Module.IsHost ? "host" : "loaded", (ulong)p.Module.BaseAddress, p.Defines, p.Defines ? ElfNames.SymbolType(p.Type) : null,
            p.Defines ? ElfNames.Binding(p.Binding) : null, p.Defines ? VersionText(p.Version) : null, p.Defines ? p.Value : null,
            p.Defines && ReferenceEquals(p, explained.Provider))).ToList();
        var winner = probes.FirstOrDefault(p => p.Binds);
        bool ifunc = explained.Provider?.Type == SymbolType.GnuIfunc;
        ulong? resolver = ifunc ? winner!.BaseAddress + winner.Value!.Value : null;
        // With InspectOnly only a host library's resolver runs (the host's code); Explain leaves any other at 0.
        bool resolved = winner is not null && explained.Address != 0;
        string? resolverRun = !ifunc ? null : resolved ? "host" : "not run";
        return new BindReport(explained.Symbol, explained.RequestedVersion, choice.Rule, choice.Reason, choice.Others,
            explained.RequestedBy.Name, explained.RequestedBy.Path, explained.DeepBind,
            winner?.Module, winner?.Path, winner?.Version, resolved ? (ulong)explained.Address : null,
            resolved ? (ulong)explained.Address - winner!.BaseAddress : null, winner?.Type, resolver, resolverRun, probes);
    }

    internal static string VersionText(SymbolVersion version) => version.Kind == SymbolVersionKind.None ? "" : version.Suffix;
}
