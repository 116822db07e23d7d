using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Elf;
using Loader.Linking;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader bind FILE SYMBOL[@VERSION] [--json]</c>: loads the library with Loader and explains how a reference
/// from it to one symbol binds (<see cref="ElfLibrary.Explain"/>): every module of its scope in search order — the
/// host's global scope, then the library and its dependencies breadth-first — what each defines, the winner with its
/// address (absolute and library+offset) and version. What <c>LD_DEBUG=bindings</c> shows, for one name and with the
/// reasons. Exit 1 when no module provides it.
/// </summary>
internal static class BindCommand
{
    public static Command Create()
    {
        var file = CommonOptions.Path("The shared object whose reference is bound (loaded with its dependencies).");
        var symbol = new Argument<string>("SYMBOL")
        {
            Description = "The symbol, optionally with the version the reference asks for: memcpy, memcpy@GLIBC_2.14, compute@VERS_1.",
        };
        var json = CommonOptions.Json();
        var command = CommonOptions.NewCommand("bind",
            "Show which library in a shared object's scope provides a symbol, at what address and version, and why: each module searched in order and what it has.",
            "loader bind /usr/lib/x86_64-linux-gnu/libz.so.1 memcpy");
        command.Add(file);
        command.Add(symbol);
        command.Add(json);
        command.Validators.Add(result =>
        {
            if (result.GetValue(symbol) is { } text && !TrySplit(text, out _, out _, out string? error))
                result.AddError(error);
        });
        command.SetAction(parseResult => Run(
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error,
            parseResult.GetRequiredValue(file), parseResult.GetRequiredValue(symbol), parseResult.GetValue(json)));
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

    public static int Run(TextWriter stdout, TextWriter stderr, string path, string symbolText, bool json)
    {
        if (!TrySplit(symbolText, out string name, out string? version, out string? usage))
        {
            stderr.WriteLine(usage);
            return ExitCodes.Usage;
        }
        BindReport report;
        try
        {
            using var library = new LoaderContext().Load(path);
            report = Build(library.Explain(name, version));
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex))
        {
            return ElfFileRunner.Fail(stderr, path, ex);
        }

        if (json)
            CliJsonContext.Write(stdout, report, CliJsonContext.Default.BindReport);
        else
            WriteText(stdout, report);
        if (report.Provider is null)
        {
            stderr.WriteLine($"loader: {path}: no module in its scope provides '{symbolText}' " +
                $"({(version is null ? "any version" : "version " + version)}; {report.Scope.Count} modules searched)");
            return ExitCodes.BadFile;
        }
        return ExitCodes.Success;
    }

    internal static BindReport Build(BindingExplanation explained)
    {
        var probes = explained.Scope.Select((p, i) => new BindProbe(i + 1, p.Part == ScopePart.Global ? "global" : "local", p.Module.Name, p.Module.Path,
            p.Module.IsHost ? "host" : "loaded", (ulong)p.Module.BaseAddress, p.Defines, p.Defines ? ElfNames.SymbolType(p.Type) : null,
            p.Defines ? ElfNames.Binding(p.Binding) : null, p.Defines ? VersionText(p.Version) : null, p.Defines ? p.Value : null,
            p.Defines && ReferenceEquals(p, explained.Provider))).ToList();
        var winner = probes.FirstOrDefault(p => p.Binds);
        return new BindReport(explained.Symbol, explained.RequestedVersion, explained.RequestedBy.Name, explained.RequestedBy.Path, explained.DeepBind,
            winner?.Module, winner?.Path, winner?.Version, winner is null ? null : (ulong)explained.Address,
            winner is null ? null : (ulong)explained.Address - winner.BaseAddress, winner?.Type, probes);
    }

    private static string VersionText(SymbolVersion version) => version.Kind == SymbolVersionKind.None ? "" : version.Suffix;

    private static void WriteText(TextWriter stdout, BindReport report)
    {
        string asked = report.RequestedVersion is null ? $"'{report.Symbol}' (unversioned: the base or only version)" : $"'{report.Symbol}@{report.RequestedVersion}'";
        stdout.WriteLine($"A reference to {asked} from {report.RequestedBy} ({report.RequestedByPath})");
        if (report.Provider is not null)
            stdout.WriteLine($"binds to {report.Provider} at 0x{report.Address:x} = {report.Provider}+0x{report.Offset:x} ({report.Type} {report.Symbol}{report.Version})");
        else
        {
            stdout.WriteLine("binds to nothing: no module in the scope defines it.");
        }
        stdout.WriteLine();
        stdout.WriteLine(report.DeepBind
            ? "The scope, in search order (DeepBind: the library and its dependencies first, then the host's global scope):"
            : "The scope, in search order (glibc's dlopen RTLD_LOCAL: the host's global scope, then the library and its dependencies breadth-first):");
        var table = new TextTable(new Column("#", Align.Right), new Column("scope"), new Column("module"), new Column("from"),
            new Column("defines"), new Column("version"), new Column("")) { Indent = 2 };
        bool bound = false;
        foreach (var p in report.Scope)
        {
            string definition = p.Defines ? $"{p.Type} {p.Binding} st_value 0x{p.Value:x}" : "-";
            string note = p.Binds ? "<- binds here (first in scope order)"
                : p.Defines && bound ? $"also defines it; {report.Provider} comes first"
                : "";
            bound |= p.Binds;
            table.Add(p.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), p.Scope, p.Module, p.Origin, definition, p.Version ?? "", note);
        }
        table.Write(stdout);
    }
}

/// <summary>What <c>loader bind</c> prints.</summary>
/// <param name="Provider">The module that provides it (its soname or file name), or null.</param>
/// <param name="Address">The address a relocation gets (an IFUNC's resolved target), or null.</param>
/// <param name="Offset">Address − the provider's base.</param>
internal sealed record BindReport(string Symbol, string? RequestedVersion, string RequestedBy, string RequestedByPath, bool DeepBind,
    string? Provider, string? ProviderPath, string? Version, ulong? Address, ulong? Offset, string? Type, List<BindProbe> Scope);

/// <summary>One module of the scope and what it has for the name.</summary>
/// <param name="Scope">global or local.</param>
/// <param name="Origin">host or loaded.</param>
/// <param name="Version">The definition's version (<c>@@VERS_2</c>), empty when unversioned.</param>
/// <param name="Binds">True for the one the reference binds to.</param>
internal sealed record BindProbe(int Index, string Scope, string Module, string Path, string Origin, ulong BaseAddress, bool Defines,
    string? Type, string? Binding, string? Version, ulong? Value, bool Binds);
