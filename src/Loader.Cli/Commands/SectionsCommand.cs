using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Elf;

namespace Loader.Cli.Commands;

/// <summary><c>loader sections FILE</c>: the section headers, as <c>readelf -S</c> shows them.</summary>
internal static class SectionsCommand
{
    public static Command Create() => CommonOptions.FileCommand("sections",
        "Show the section headers (.dynsym, .text, .data, ...) with types, addresses, sizes and flags, like readelf -S. A loader does not need them; a stripped file may have none.",
        "loader sections /usr/lib/x86_64-linux-gnu/libz.so.1",
        CommonOptions.File(), Run);

    public static int Run(TextWriter stdout, TextWriter stderr, string path, bool json) =>
        ElfFileRunner.Run(path, stderr, elf =>
        {
            var report = Build(elf);
            if (json)
                CliJsonContext.Write(stdout, report, CliJsonContext.Default.SectionsReport);
            else
                WriteText(stdout, report, elf.Header.Class);
            return ExitCodes.Success;
        });

    internal static SectionsReport Build(ElfFile elf)
    {
        var sections = new List<SectionRow>(elf.SectionCount);
        for (int i = 0; i < elf.Sections.Count; i++)
        {
            var sh = elf.Sections[i];
            sections.Add(new SectionRow(i, sh.Name, ElfNames.SectionType(sh.Type, elf.Header.Machine), ElfNames.SectionFlags(sh.Flags),
                sh.Address, sh.Offset, sh.Size, sh.EntrySize, sh.Link, sh.Info, sh.AddressAlignment));
        }
        return new SectionsReport(elf.Name, elf.Header.SectionHeaderOffset, sections);
    }

    private static void WriteText(TextWriter stdout, SectionsReport r, ElfClass elfClass)
    {
        if (r.Sections.Count == 0)
        {
            stdout.WriteLine("There are no sections in this file.");
            return;
        }
        stdout.WriteLine($"There are {r.Sections.Count} section headers, starting at offset {ElfNames.Hex(r.SectionHeaderOffset)}:");
        stdout.WriteLine();
        var table = new TextTable(
            new Column("[Nr]", Align.Right), new Column("Name", Shrinks: true), new Column("Type"), new Column("Address", Align.Right),
            new Column("Off", Align.Right), new Column("Size", Align.Right), new Column("ES", Align.Right), new Column("Flg"),
            new Column("Lk", Align.Right), new Column("Inf", Align.Right), new Column("Al", Align.Right))
        { Indent = 2 };
        foreach (var s in r.Sections)
        {
            table.Add($"[{s.Index}]", s.Name, s.Type, ElfNames.Address(s.Address, elfClass), s.Offset.ToString("x6"),
                s.Size.ToString("x6"), s.EntrySize.ToString("x2"), s.Flags, s.Link.ToString(), s.Info.ToString(), s.Alignment.ToString());
        }
        table.Write(stdout);
        stdout.WriteLine("Key to Flags: W (write), A (alloc), X (execute), M (merge), S (strings), I (info), L (link order),");
        stdout.WriteLine("  O (extra OS processing required), G (group), T (TLS), C (compressed), E (exclude), x (unknown)");
    }
}

/// <summary>The section headers, as <c>loader sections</c> prints them.</summary>
internal sealed record SectionsReport(string File, ulong SectionHeaderOffset, List<SectionRow> Sections);

/// <summary>One section header; <see cref="Flags"/> uses readelf's key letters (<c>WA</c>, <c>AX</c>).</summary>
internal sealed record SectionRow(
    int Index,
    string Name,
    string Type,
    string Flags,
    ulong Address,
    ulong Offset,
    ulong Size,
    ulong EntrySize,
    uint Link,
    uint Info,
    ulong Alignment);
