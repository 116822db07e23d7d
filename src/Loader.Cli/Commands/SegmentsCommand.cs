using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Elf;

namespace Loader.Cli.Commands;

/// <summary><c>loader segments FILE</c>: the program headers, as <c>readelf -l</c> shows them.</summary>
internal static class SegmentsCommand
{
    public static Command Create() => CommonOptions.FileCommand("segments",
        "Show the program headers (PT_LOAD, PT_DYNAMIC, PT_GNU_RELRO, ...) with offsets, addresses, sizes and R/W/E flags, like readelf -l.",
        "loader segments /usr/lib/x86_64-linux-gnu/libc.so.6",
        CommonOptions.File(), Run);

    public static int Run(TextWriter stdout, TextWriter stderr, string path, bool json) =>
        ElfFileRunner.Run(path, stderr, elf =>
        {
            var report = Build(elf);
            if (json)
                CliJsonContext.Write(stdout, report, CliJsonContext.Default.SegmentsReport);
            else
                WriteText(stdout, report, elf.Header.Class);
            return ExitCodes.Success;
        });

    internal static SegmentsReport Build(ElfFile elf)
    {
        var segments = new List<SegmentRow>(elf.ProgramHeaderCount);
        for (int i = 0; i < elf.ProgramHeaders.Count; i++)
        {
            var ph = elf.ProgramHeaders[i];
            segments.Add(new SegmentRow(i, ElfNames.SegmentType(ph.Type), (uint)ph.Type, ElfNames.SegmentFlags(ph.Flags).TrimEnd(),
                ph.Offset, ph.VirtualAddress, ph.PhysicalAddress, ph.FileSize, ph.MemorySize, ph.Alignment));
        }
        return new SegmentsReport(elf.Name, ElfNames.Type(elf), elf.Header.Entry, elf.Header.ProgramHeaderOffset, elf.Interpreter, segments);
    }

    private static void WriteText(TextWriter stdout, SegmentsReport r, ElfClass elfClass)
    {
        if (r.Segments.Count == 0)
        {
            stdout.WriteLine("There are no program headers in this file.");
            return;
        }
        stdout.WriteLine($"Elf file type is {r.Type}");
        stdout.WriteLine($"Entry point {ElfNames.Hex(r.Entry)}");
        stdout.WriteLine($"There are {r.Segments.Count} program headers, starting at offset {r.ProgramHeaderOffset}");
        stdout.WriteLine();
        var table = new TextTable(
            new Column("Type"), new Column("Offset", Align.Right), new Column("VirtAddr", Align.Right), new Column("PhysAddr", Align.Right),
            new Column("FileSiz", Align.Right), new Column("MemSiz", Align.Right), new Column("Flg"), new Column("Align", Align.Right))
        { Indent = 2 };
        foreach (var s in r.Segments)
        {
            table.Add(s.Type, "0x" + s.Offset.ToString("x6"), "0x" + ElfNames.Address(s.VirtualAddress, elfClass),
                "0x" + ElfNames.Address(s.PhysicalAddress, elfClass), "0x" + s.FileSize.ToString("x6"), "0x" + s.MemorySize.ToString("x6"),
                s.Flags.PadRight(3), ElfNames.Hex(s.Alignment));
        }
        table.Write(stdout);
        if (r.Interpreter is not null)
            stdout.WriteLine($"      [Requesting program interpreter: {r.Interpreter}]");
    }
}

/// <summary>The program headers, as <c>loader segments</c> prints them.</summary>
internal sealed record SegmentsReport(string File, string Type, ulong Entry, ulong ProgramHeaderOffset, string? Interpreter, List<SegmentRow> Segments);

/// <summary>One program header; <see cref="Flags"/> reads like readelf's Flg column (<c>R E</c>, <c>RW</c>).</summary>
internal sealed record SegmentRow(
    int Index,
    string Type,
    uint RawType,
    string Flags,
    ulong Offset,
    ulong VirtualAddress,
    ulong PhysicalAddress,
    ulong FileSize,
    ulong MemorySize,
    ulong Alignment);
