using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Elf;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader symbols FILE [--defined|--undefined] [--filter TEXT]</c>: the dynamic symbols with their versions, as
/// <c>readelf --dyn-syms -W</c> shows them.
/// </summary>
internal static class SymbolsCommand
{
    public static Command Create()
    {
        var file = CommonOptions.File();
        var json = CommonOptions.Json();
        var defined = new Option<bool>("--defined") { Description = "Only the symbols this file defines (st_shndx is not UND)." };
        var undefined = new Option<bool>("--undefined") { Description = "Only the symbols this file needs from others (st_shndx is UND)." };
        var filter = new Option<string?>("--filter") { Description = "Only the symbols whose name contains TEXT (case-insensitive).", HelpName = "TEXT" };
        var command = CommonOptions.NewCommand("symbols",
            "Show the dynamic symbols (DT_SYMTAB) with value, size, type, binding, visibility, section and version (name@@VER, name@VER), like readelf --dyn-syms -W.",
            "loader symbols /usr/lib/x86_64-linux-gnu/libz.so.1 --defined");
        command.Add(file);
        command.Add(defined);
        command.Add(undefined);
        command.Add(filter);
        command.Add(json);
        command.Validators.Add(result =>
        {
            if (result.GetValue(defined) && result.GetValue(undefined))
                result.AddError("--defined and --undefined cannot be used together; leave both out to see every symbol.");
        });
        command.SetAction(parseResult =>
        {
            var selection = parseResult.GetValue(defined) ? SymbolSelection.Defined
                : parseResult.GetValue(undefined) ? SymbolSelection.Undefined
                : SymbolSelection.All;
            return Run(parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error,
                parseResult.GetRequiredValue(file), selection, parseResult.GetValue(filter), parseResult.GetValue(json));
        });
        return command;
    }

    public static int Run(TextWriter stdout, TextWriter stderr, string path, SymbolSelection selection, string? filter, bool json) =>
        ElfFileRunner.Run(path, stderr, elf =>
        {
            var report = Build(elf, selection, filter);
            if (json)
                CliJsonContext.Write(stdout, report, CliJsonContext.Default.SymbolsReport);
            else
                WriteText(stdout, report, elf.Header.Class);
            return ExitCodes.Success;
        });

    internal static SymbolsReport Build(ElfFile elf, SymbolSelection selection, string? filter)
    {
        var rows = new List<SymbolRow>();
        int count = elf.DynamicSymbols?.Count ?? 0;
        if (elf.DynamicSymbols is { } symbols)
        {
            for (int i = 0; i < symbols.Count; i++)
            {
                var symbol = symbols[i];
                // The null symbol at index 0 is neither a definition nor a reference; only the full listing shows it, as readelf does.
                bool keep = selection switch
                {
                    SymbolSelection.Defined => !symbol.IsUndefined,
                    SymbolSelection.Undefined => symbol.IsUndefined && i != 0,
                    _ => true,
                };
                if (!keep)
                    continue;
                string name = DisplayedName(elf, symbol, symbols.GetName(i));
                if (!string.IsNullOrEmpty(filter) && !name.Contains(filter, StringComparison.OrdinalIgnoreCase))
                    continue;
                rows.Add(Row(elf, i, symbol, name));
            }
        }
        return new SymbolsReport(elf.Name, count, rows);
    }

    /// <summary>One symbol as a row; shared with <c>relocs</c>, which names the symbol each relocation refers to.</summary>
    internal static SymbolRow Row(ElfFile elf, int index, ElfSymbol symbol, string name)
    {
        var version = elf.GetSymbolVersion(index).ForDisplay(name);
        return new SymbolRow(
            Index: index,
            Name: name,
            Version: version.Kind == SymbolVersionKind.None ? null : version.Name,
            VersionKind: VersionKind(version.Kind),
            VersionFile: version.File,
            Value: symbol.Value,
            Size: symbol.Size,
            Type: ElfNames.SymbolType(symbol.Type),
            Bind: ElfNames.Binding(symbol.Binding),
            Visibility: ElfNames.Visibility(symbol.Visibility),
            Section: ElfNames.SectionIndex(symbol.SectionIndex));
    }

    /// <summary>
    /// The symbol's name; an unnamed STT_SECTION symbol takes its section's name (<c>.text</c>), as readelf shows it.
    /// </summary>
    internal static string DisplayedName(ElfFile elf, ElfSymbol symbol, string name) =>
        name.Length == 0 && symbol.Type == SymbolType.Section && symbol.SectionIndex < elf.SectionCount
            ? elf.Sections[symbol.SectionIndex].Name
            : name;

    /// <summary>The JSON word for a version kind: <c>default</c>, <c>hidden</c>, <c>needed</c>, or null for none.</summary>
    internal static string? VersionKind(SymbolVersionKind kind) => kind switch
    {
        SymbolVersionKind.Default => "default",
        SymbolVersionKind.Hidden => "hidden",
        SymbolVersionKind.Needed => "needed",
        _ => null,
    };

    private static void WriteText(TextWriter stdout, SymbolsReport r, ElfClass elfClass)
    {
        if (r.Count == 0)
        {
            stdout.WriteLine("There is no dynamic symbol table (DT_SYMTAB) in this file.");
            return;
        }
        stdout.WriteLine(r.Symbols.Count == r.Count
            ? $"Dynamic symbol table (DT_SYMTAB) contains {r.Count} entries:"
            : $"Dynamic symbol table (DT_SYMTAB) contains {r.Count} entries, {r.Symbols.Count} shown:");
        var table = new TextTable(
            new Column("Num", Align.Right), new Column("Value", Align.Right), new Column("Size", Align.Right), new Column("Type"),
            new Column("Bind"), new Column("Vis"), new Column("Ndx", Align.Right), new Column("Name"))
        { Indent = 2 };
        foreach (var s in r.Symbols)
            table.Add(s.Index + ":", ElfNames.Address(s.Value, elfClass), s.Size.ToString(), s.Type, s.Bind, s.Visibility, s.Section, DisplayName(s.Name, s.Version, s.VersionKind));
        table.Write(stdout);
    }

    /// <summary><c>name@@VER</c>, <c>name@VER</c>, or the bare name, as readelf prints it.</summary>
    internal static string DisplayName(string name, string? version, string? versionKind) => versionKind switch
    {
        "default" => $"{name}@@{version}",
        "hidden" or "needed" => $"{name}@{version}",
        _ => name,
    };
}

/// <summary>Which symbols <c>loader symbols</c> lists.</summary>
internal enum SymbolSelection
{
    /// <summary>Every entry, the null symbol included.</summary>
    All,
    /// <summary>Definitions: st_shndx is not SHN_UNDEF.</summary>
    Defined,
    /// <summary>References: st_shndx is SHN_UNDEF (the null symbol excluded).</summary>
    Undefined,
}

/// <summary>The dynamic symbols, as <c>loader symbols</c> prints them; <see cref="Count"/> is the table's size before any selection.</summary>
internal sealed record SymbolsReport(string File, int Count, List<SymbolRow> Symbols);

/// <summary>
/// One dynamic symbol, in readelf's words (FUNC, GLOBAL, DEFAULT, UND). <see cref="VersionKind"/> is <c>default</c>
/// (<c>name@@VER</c>), <c>hidden</c> (<c>name@VER</c>), <c>needed</c> (a reference, <c>name@VER</c>, with the library
/// expected to define it in <see cref="VersionFile"/>) or null for an unversioned symbol — and for the symbol that
/// names a version this file defines, which readelf also prints without a version.
/// </summary>
internal sealed record SymbolRow(
    int Index,
    string Name,
    string? Version,
    string? VersionKind,
    string? VersionFile,
    ulong Value,
    ulong Size,
    string Type,
    string Bind,
    string Visibility,
    string Section);
