using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Elf;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader info FILE</c>: one screen about a library — what it is, what it needs, how big its tables are. FILE is
/// required, as for every command that reads a file; only <c>loader</c> (the demo) runs without one.
/// </summary>
internal static class InfoCommand
{
    public static Command Create() => CommonOptions.FileCommand("info",
        "Summarize an ELF file: class, machine, soname, needed libraries, search paths, build ID, flags, and table sizes.",
        "loader info /usr/lib/x86_64-linux-gnu/libc.so.6", CommonOptions.File(), Run);

    public static int Run(TextWriter stdout, TextWriter stderr, string path, bool json) =>
        ElfFileRunner.Run(path, stderr, elf =>
        {
            var report = Build(elf);
            if (json)
                CliJsonContext.Write(stdout, report, CliJsonContext.Default.InfoReport);
            else
                WriteText(stdout, report);
            return ExitCodes.Success;
        });

    internal static InfoReport Build(ElfFile elf)
    {
        int defined = 0, undefined = 0, total = 0;
        if (elf.DynamicSymbols is { } symbols)
        {
            total = symbols.Count;
            for (int i = 1; i < symbols.Count; i++)
            {
                if (symbols[i].IsUndefined)
                    undefined++;
                else
                    defined++;
            }
        }
        var relocations = elf.RelocationTables
            .Select(t => new RelocationCount(t.Name, t.Format == RelocationFormat.Rela ? "RELA" : "REL", t.Count))
            .ToList();
        var header = elf.Header;
        return new InfoReport(
            File: elf.Name,
            Class: ElfNames.Class(header.Class),
            Endianness: header.Data == ElfData.LittleEndian ? "little endian" : "big endian",
            Machine: ElfNames.Machine(header.Machine),
            Type: ElfNames.Type(elf),
            SoName: elf.SoName,
            Needed: [.. elf.Needed],
            RunPath: elf.RunPath,
            RPath: elf.RPath,
            BuildId: elf.BuildId.IsEmpty ? null : Convert.ToHexStringLower(elf.BuildId.Span),
            Flags: elf.Dynamic is { } dyn ? ElfNames.DynamicFlags(dyn.Flags) : [],
            Flags1: elf.Dynamic is { } dyn1 ? ElfNames.DynamicFlags1(dyn1.Flags1) : [],
            Entry: header.Entry,
            Interpreter: elf.Interpreter,
            Segments: elf.ProgramHeaderCount,
            Sections: elf.SectionCount,
            DynamicSymbols: new SymbolCounts(total, defined, undefined),
            Relocations: relocations,
            RelrAddresses: elf.Relr?.DecodeAddresses().Count ?? 0,
            Tls: TlsSegment.Find(elf.ProgramHeaders) is { } tls
                ? new TlsSummary(tls.MemorySize, tls.FileSize, tls.Alignment, elf.Dynamic is { } d && (d.Flags & DynamicFlags.StaticTls) != 0)
                : null);
    }

    private static void WriteText(TextWriter stdout, InfoReport r)
    {
        static string OrDash(string? s) => string.IsNullOrEmpty(s) ? "-" : s;
        static string List(List<string> items) => items.Count == 0 ? "-" : string.Join(" ", items);

        string relocations = r.Relocations.Count == 0
            ? "-"
            : string.Join(", ", r.Relocations.Select(t => $"{t.Table} {t.Count}"));
        var table = TextTable.KeyValue()
            .Add("File:", r.File)
            .Add("Class:", r.Class)
            .Add("Endianness:", r.Endianness)
            .Add("Machine:", r.Machine)
            .Add("Type:", r.Type)
            .Add("SONAME:", OrDash(r.SoName))
            .Add("Needed:", r.Needed.Count == 0 ? "-" : string.Join(", ", r.Needed))
            .Add("RUNPATH:", OrDash(r.RunPath))
            .Add("RPATH:", OrDash(r.RPath))
            .Add("Build ID:", OrDash(r.BuildId))
            .Add("DT_FLAGS:", List(r.Flags))
            .Add("DT_FLAGS_1:", List(r.Flags1))
            .Add("Entry:", ElfNames.Hex(r.Entry))
            .Add("Interpreter:", OrDash(r.Interpreter))
            .Add("Segments:", r.Segments.ToString())
            .Add("Sections:", r.Sections.ToString())
            .Add("Dynamic symbols:", r.DynamicSymbols.Total == 0
                ? "0"
                : $"{r.DynamicSymbols.Total} ({r.DynamicSymbols.Defined} defined, {r.DynamicSymbols.Undefined} undefined, 1 null)")
            .Add("Relocations:", relocations)
            .Add("RELR addresses:", r.RelrAddresses.ToString())
            .Add("TLS:", r.Tls is not { } tls ? "-"
                : $"0x{tls.Size:x} bytes per thread (.tdata 0x{tls.ImageSize:x}, .tbss 0x{tls.Size - tls.ImageSize:x}), aligned 0x{tls.Alignment:x}; " +
                  (tls.StaticTls ? "static TLS (DF_STATIC_TLS: initial-exec code)" : "dynamic (__tls_get_addr or TLSDESC)"));
        table.Write(stdout);
    }
}

/// <summary>The summary <c>loader info</c> prints.</summary>
internal sealed record InfoReport(
    string File,
    string Class,
    string Endianness,
    string Machine,
    string Type,
    string? SoName,
    List<string> Needed,
    string? RunPath,
    string? RPath,
    string? BuildId,
    List<string> Flags,
    List<string> Flags1,
    ulong Entry,
    string? Interpreter,
    int Segments,
    int Sections,
    SymbolCounts DynamicSymbols,
    List<RelocationCount> Relocations,
    int RelrAddresses,
    TlsSummary? Tls);

/// <summary>The PT_TLS template: the per-thread block's size, its initialized part, its alignment, and whether the
/// library asks for static TLS (DF_STATIC_TLS).</summary>
internal sealed record TlsSummary(ulong Size, ulong ImageSize, ulong Alignment, bool StaticTls);

/// <summary>Dynamic symbol counts: every entry (the null symbol at index 0 included), and how many define or reference.</summary>
internal sealed record SymbolCounts(int Total, int Defined, int Undefined);

/// <summary>The number of entries in one relocation table (DT_RELA, DT_REL or DT_JMPREL).</summary>
internal sealed record RelocationCount(string Table, string Format, int Count);
