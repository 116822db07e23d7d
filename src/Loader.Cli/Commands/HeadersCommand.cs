using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Elf;

namespace Loader.Cli.Commands;

/// <summary><c>loader headers FILE</c>: the ELF file header, field by field, as <c>readelf -h</c> shows it.</summary>
internal static class HeadersCommand
{
    public static Command Create() => CommonOptions.FileCommand("headers",
        "Show the ELF file header (e_ident, e_type, e_machine, e_entry, the table offsets and counts), like readelf -h.",
        "loader headers /usr/lib/x86_64-linux-gnu/libz.so.1",
        CommonOptions.File(), Run);

    public static int Run(TextWriter stdout, TextWriter stderr, string path, bool json) =>
        ElfFileRunner.Run(path, stderr, elf =>
        {
            var report = Build(elf);
            if (json)
                CliJsonContext.Write(stdout, report, CliJsonContext.Default.HeaderReport);
            else
                WriteText(stdout, report);
            return ExitCodes.Success;
        });

    internal static HeaderReport Build(ElfFile elf)
    {
        var h = elf.Header;
        // ElfHeader.Read has already checked the 16 identification bytes are there.
        var ident = elf.Bytes.Span[..ElfHeader.IdentSize];
        return new HeaderReport(
            File: elf.Name,
            Magic: string.Join(' ', ident.ToArray().Select(b => b.ToString("x2"))),
            Class: ElfNames.Class(h.Class),
            Data: ElfNames.Data(h.Data),
            IdentVersion: ident[6],
            OsAbi: ElfNames.OsAbi(h.OsAbi),
            AbiVersion: h.AbiVersion,
            Type: ElfNames.Type(elf),
            Machine: ElfNames.Machine(h.Machine),
            Version: h.Version,
            Entry: h.Entry,
            ProgramHeaderOffset: h.ProgramHeaderOffset,
            SectionHeaderOffset: h.SectionHeaderOffset,
            Flags: h.Flags,
            HeaderSize: h.HeaderSize,
            ProgramHeaderEntrySize: h.ProgramHeaderEntrySize,
            ProgramHeaderCountStored: h.ProgramHeaderCount,
            ProgramHeaderCount: elf.ProgramHeaderCount,
            SectionHeaderEntrySize: h.SectionHeaderEntrySize,
            SectionHeaderCountStored: h.SectionHeaderCount,
            SectionHeaderCount: elf.SectionCount,
            SectionNameTableIndexStored: h.SectionNameTableIndex,
            SectionNameTableIndex: elf.SectionNameTableIndex);
    }

    private static void WriteText(TextWriter stdout, HeaderReport r)
    {
        // With extended numbering the stored field is an escape value; show it with the real number, as readelf does.
        static string Count(ushort stored, int real) => stored == real ? real.ToString() : $"{stored} ({real})";

        stdout.WriteLine("ELF Header:");
        new TextTable(new Column("Field"), new Column("Value")) { ShowHeadings = false, Indent = 2 }
            .Add("Magic:", r.Magic)
            .Add("Class:", r.Class)
            .Add("Data:", r.Data)
            .Add("Version:", r.IdentVersion == 1 ? "1 (current)" : r.IdentVersion.ToString())
            .Add("OS/ABI:", r.OsAbi)
            .Add("ABI Version:", r.AbiVersion.ToString())
            .Add("Type:", r.Type)
            .Add("Machine:", r.Machine)
            .Add("Version:", ElfNames.Hex(r.Version))
            .Add("Entry point address:", ElfNames.Hex(r.Entry))
            .Add("Start of program headers:", $"{r.ProgramHeaderOffset} (bytes into file)")
            .Add("Start of section headers:", $"{r.SectionHeaderOffset} (bytes into file)")
            .Add("Flags:", ElfNames.Hex(r.Flags))
            .Add("Size of this header:", $"{r.HeaderSize} (bytes)")
            .Add("Size of program headers:", $"{r.ProgramHeaderEntrySize} (bytes)")
            .Add("Number of program headers:", Count(r.ProgramHeaderCountStored, r.ProgramHeaderCount))
            .Add("Size of section headers:", $"{r.SectionHeaderEntrySize} (bytes)")
            .Add("Number of section headers:", Count(r.SectionHeaderCountStored, r.SectionHeaderCount))
            .Add("Section header string table index:", Count(r.SectionNameTableIndexStored, r.SectionNameTableIndex))
            .Write(stdout);
    }
}

/// <summary>The ELF header as <c>loader headers</c> prints it; the <c>…Stored</c> fields are the raw values before extended numbering.</summary>
internal sealed record HeaderReport(
    string File,
    string Magic,
    string Class,
    string Data,
    byte IdentVersion,
    string OsAbi,
    byte AbiVersion,
    string Type,
    string Machine,
    uint Version,
    ulong Entry,
    ulong ProgramHeaderOffset,
    ulong SectionHeaderOffset,
    uint Flags,
    ushort HeaderSize,
    ushort ProgramHeaderEntrySize,
    ushort ProgramHeaderCountStored,
    int ProgramHeaderCount,
    ushort SectionHeaderEntrySize,
    ushort SectionHeaderCountStored,
    int SectionHeaderCount,
    ushort SectionNameTableIndexStored,
    int SectionNameTableIndex);
