using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Elf;

namespace Loader.Cli.Commands;

/// <summary><c>loader relocs FILE</c>: every dynamic relocation, table by table, then the DT_RELR addresses, as <c>readelf -r</c> shows them.</summary>
internal static class RelocsCommand
{
    public static Command Create() => CommonOptions.FileCommand("relocs",
        "Show the dynamic relocations (DT_RELA, DT_REL, DT_JMPREL): offset, info, type, symbol value, symbol name with version and addend; then the addresses DT_RELR packs.",
        "loader relocs /usr/lib/x86_64-linux-gnu/libz.so.1",
        CommonOptions.File(), Run);

    public static int Run(TextWriter stdout, TextWriter stderr, string path, bool json) =>
        ElfFileRunner.Run(path, stderr, elf =>
        {
            var report = Build(elf);
            if (json)
                CliJsonContext.Write(stdout, report, CliJsonContext.Default.RelocsReport);
            else
                WriteText(stdout, report, elf.Header.Class);
            return ExitCodes.Success;
        });

    internal static RelocsReport Build(ElfFile elf)
    {
        var tables = new List<RelocationTableRow>();
        foreach (var table in elf.RelocationTables)
        {
            var rows = new List<RelocationRow>(table.Count);
            foreach (var r in table)
            {
                SymbolRow? symbol = null;
                // ElfFile has checked every r_info symbol index against DT_SYMTAB's size.
                if (r.SymbolIndex != 0 && elf.DynamicSymbols is { } symbols)
                {
                    int i = (int)r.SymbolIndex;
                    var entry = symbols[i];
                    symbol = SymbolsCommand.Row(elf, i, entry, SymbolsCommand.DisplayedName(elf, entry, symbols.GetName(i)));
                }
                rows.Add(new RelocationRow(r.Offset, r.Info, r.Type, RelocationTypeNames.Name(elf.Header.Machine, r.Type), r.SymbolIndex,
                    symbol?.Value, symbol?.Name, symbol?.Version, symbol?.VersionKind, r.HasAddend ? r.Addend : null));
            }
            tables.Add(new RelocationTableRow(table.Name, table.Format == RelocationFormat.Rela ? "RELA" : "REL", table.Address, table.Count, rows));
        }
        RelrRow? relr = elf.Relr is { } packed ? new RelrRow(packed.Address, packed.EntryCount, packed.DecodeAddresses()) : null;
        return new RelocsReport(elf.Name, tables, relr);
    }

    private static void WriteText(TextWriter stdout, RelocsReport report, ElfClass elfClass)
    {
        if (report.Tables.Count == 0 && report.Relr is null)
        {
            stdout.WriteLine("There are no dynamic relocations in this file.");
            return;
        }
        bool first = true;
        foreach (var t in report.Tables)
        {
            if (!first)
                stdout.WriteLine();
            first = false;
            stdout.WriteLine($"{t.Name} at {ElfNames.Hex(t.Address)} contains {t.Count} {t.Format} entries:");
            bool rela = t.Format == "RELA";
            var columns = new List<Column>
            {
                new("Offset", Align.Right), new("Info", Align.Right), new("Type"), new("Sym. Value", Align.Right), new("Sym. Name"),
            };
            if (rela)
                columns.Add(new Column("Addend", Align.Right));
            var table = new TextTable([.. columns]) { Indent = 2 };
            foreach (var r in t.Relocations)
            {
                string value = r.SymbolValue is { } v ? ElfNames.Address(v, elfClass) : "";
                string name = r.SymbolName is null ? "" : SymbolsCommand.DisplayName(r.SymbolName, r.SymbolVersion, r.SymbolVersionKind);
                string[] cells = rela
                    ? [ElfNames.Address(r.Offset, elfClass), ElfNames.Address(r.Info, elfClass), r.TypeName, value, name, ElfNames.SignedHex(r.Addend ?? 0)]
                    : [ElfNames.Address(r.Offset, elfClass), ElfNames.Address(r.Info, elfClass), r.TypeName, value, name];
                table.Add(cells);
            }
            table.Write(stdout);
        }
        if (report.Relr is { } relr)
        {
            if (!first)
                stdout.WriteLine();
            stdout.WriteLine($"DT_RELR at {ElfNames.Hex(relr.Address)} packs {relr.Addresses.Count} relative relocations into {relr.EntryCount} entries:");
            const int PerLine = 4;
            var table = new TextTable(Enumerable.Repeat(new Column("Address", Align.Right), PerLine).ToArray()) { ShowHeadings = false, Indent = 2 };
            for (int i = 0; i < relr.Addresses.Count; i += PerLine)
            {
                var cells = new string[PerLine];
                for (int c = 0; c < PerLine; c++)
                    cells[c] = i + c < relr.Addresses.Count ? ElfNames.Address(relr.Addresses[i + c], elfClass) : "";
                table.Add(cells);
            }
            table.Write(stdout);
        }
    }
}

/// <summary>The dynamic relocations, as <c>loader relocs</c> prints them; <see cref="Relr"/> is null without DT_RELR.</summary>
internal sealed record RelocsReport(string File, List<RelocationTableRow> Tables, RelrRow? Relr);

/// <summary>One REL/RELA table: the dynamic tag that located it (DT_RELA, DT_REL, DT_JMPREL), its format and entries.</summary>
internal sealed record RelocationTableRow(string Name, string Format, ulong Address, int Count, List<RelocationRow> Relocations);

/// <summary>
/// One relocation: r_offset, r_info, the type's number and ABI name, and — when it names a symbol — the symbol's value,
/// name and version (as in <c>symbols</c>); <see cref="Addend"/> is null for REL entries.
/// </summary>
internal sealed record RelocationRow(
    ulong Offset,
    ulong Info,
    uint Type,
    string TypeName,
    uint SymbolIndex,
    ulong? SymbolValue,
    string? SymbolName,
    string? SymbolVersion,
    string? SymbolVersionKind,
    long? Addend);

/// <summary>DT_RELR: its address, the number of stored words, and the addresses they decode to.</summary>
internal sealed record RelrRow(ulong Address, int EntryCount, List<ulong> Addresses);
