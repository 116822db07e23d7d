using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Elf;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader dynamic FILE</c>: the PT_DYNAMIC entries with their values interpreted, as <c>readelf -d</c> shows them:
/// the section located by its file offset (and its address), each d_ptr value an address in hex, each size with
/// <c>(bytes)</c>, counts in decimal, strings and flags spelled out; <c>--json</c> says which of these each value is.
/// </summary>
internal static class DynamicCommand
{
    public static Command Create() => CommonOptions.FileCommand("dynamic",
        "Show the dynamic section (NEEDED, SONAME, GNU_HASH, FLAGS_1, ...) with library names, sizes and flags spelled out, like readelf -d.",
        "loader dynamic /usr/lib/x86_64-linux-gnu/libz.so.1",
        CommonOptions.File(), Run);

    public static int Run(TextWriter stdout, TextWriter stderr, string path, bool json) =>
        ElfFileRunner.Run(path, stderr, elf =>
        {
            var report = Build(elf);
            if (json)
                CliJsonContext.Write(stdout, report, CliJsonContext.Default.DynamicReport);
            else
                WriteText(stdout, report, elf.Header.Class);
            return ExitCodes.Success;
        });

    internal static DynamicReport Build(ElfFile elf)
    {
        var entries = new List<DynamicRow>();
        if (elf.Dynamic is { } dynamic)
        {
            for (int i = 0; i < dynamic.Entries.Count; i++)
            {
                var entry = dynamic.Entries[i];
                entries.Add(Interpret(elf, i, entry));
            }
        }
        return new DynamicReport(elf.Name, FileOffset(elf), elf.Dynamic?.Address, entries);
    }

    // Where readelf says the section is: the .dynamic section's sh_offset, else PT_DYNAMIC's p_offset.
    private static ulong? FileOffset(ElfFile elf)
    {
        if (elf.Dynamic is not { } dynamic)
            return null;
        foreach (var section in elf.Sections)
            if (section.Type == SectionType.Dynamic && section.Address == dynamic.Address)
                return section.Offset;
        foreach (var header in elf.ProgramHeaders)
            if (header.Type == SegmentType.Dynamic && header.VirtualAddress == dynamic.Address)
                return header.Offset;
        return null;
    }

    private static DynamicRow Interpret(ElfFile elf, int index, DynamicEntry entry)
    {
        string name = ElfNames.DynamicTag(entry.RawTag);
        ulong v = entry.Value;
        string? text = null;
        List<string>? flags = null;
        string display;
        string kind = DynamicValueKind.Address;
        switch (entry.Tag)
        {
            case DynamicTag.Needed: text = Str(); kind = DynamicValueKind.String; display = $"Shared library: [{text}]"; break;
            case DynamicTag.SoName: text = Str(); kind = DynamicValueKind.String; display = $"Library soname: [{text}]"; break;
            case DynamicTag.RPath: text = Str(); kind = DynamicValueKind.String; display = $"Library rpath: [{text}]"; break;
            case DynamicTag.RunPath: text = Str(); kind = DynamicValueKind.String; display = $"Library runpath: [{text}]"; break;
            case DynamicTag.Auxiliary: text = Str(); kind = DynamicValueKind.String; display = $"Auxiliary library: [{text}]"; break;
            case DynamicTag.Filter: text = Str(); kind = DynamicValueKind.String; display = $"Filter library: [{text}]"; break;
            case DynamicTag.Audit: text = Str(); kind = DynamicValueKind.String; display = $"Audit library: [{text}]"; break;
            case DynamicTag.DepAudit: text = Str(); kind = DynamicValueKind.String; display = $"Dependency audit library: [{text}]"; break;
            case DynamicTag.PltRelSz or DynamicTag.RelaSz or DynamicTag.RelaEnt or DynamicTag.StrSz or DynamicTag.SymEnt
                or DynamicTag.RelSz or DynamicTag.RelEnt or DynamicTag.InitArraySz or DynamicTag.FiniArraySz
                or DynamicTag.PreinitArraySz or DynamicTag.RelrSz or DynamicTag.RelrEnt or DynamicTag.SymInSz
                or DynamicTag.SymInEnt or DynamicTag.MoveEnt or DynamicTag.MoveSz or DynamicTag.PltPadSz
                or DynamicTag.GnuConflictSz or DynamicTag.GnuLibListSz:
                display = $"{v} (bytes)";
                kind = DynamicValueKind.Bytes;
                break;
            case DynamicTag.VerDefNum or DynamicTag.VerNeedNum or DynamicTag.RelaCount or DynamicTag.RelCount:
                display = v.ToString();
                kind = DynamicValueKind.Count;
                break;
            case DynamicTag.PltRel:
                display = v switch { (ulong)DynamicTag.Rela => "RELA", (ulong)DynamicTag.Rel => "REL", _ => ElfNames.Hex(v) };
                kind = DynamicValueKind.Tag;
                break;
            case DynamicTag.Flags:
                flags = ElfNames.DynamicFlags((DynamicFlags)v);
                display = flags.Count == 0 ? "0" : string.Join(' ', flags);
                kind = DynamicValueKind.Flags;
                break;
            case DynamicTag.Flags1:
                flags = ElfNames.DynamicFlags1((DynamicFlags1)v);
                display = "Flags: " + string.Join(' ', flags);
                kind = DynamicValueKind.Flags;
                break;
            case DynamicTag.Null:
                display = ElfNames.Hex(v);
                kind = DynamicValueKind.None;
                break;
            default:
                // readelf's default: d_ptr values (and tags it does not know) as an address in hex.
                display = ElfNames.Hex(v);
                break;
        }
        return new DynamicRow(index, name, entry.RawTag, v, kind, text, flags, display);

        // A bad string offset is an ElfFormatException naming DT_STRTAB, reported as a bad file.
        string Str() => elf.DynamicStrings.GetString(checked((uint)v));
    }

    private static void WriteText(TextWriter stdout, DynamicReport r, ElfClass elfClass)
    {
        if (r.Address is null)
        {
            stdout.WriteLine("There is no dynamic section in this file.");
            return;
        }
        string where = r.Offset is { } offset
            ? $"at offset {ElfNames.Hex(offset)} (address {ElfNames.Hex(r.Address.Value)})"
            : $"at address {ElfNames.Hex(r.Address.Value)}";
        stdout.WriteLine($"Dynamic section {where} contains {r.Entries.Count} entries:");
        var table = new TextTable(new Column("Tag"), new Column("Type"), new Column("Name/Value")) { Indent = 2 };
        foreach (var e in r.Entries)
            table.Add("0x" + ElfNames.Address((ulong)e.RawTag, elfClass), $"({e.Tag})", e.Display);
        table.Write(stdout);
    }
}

/// <summary>
/// The dynamic section, as <c>loader dynamic</c> prints it: its file offset (as readelf -d locates it) and its virtual
/// address, both null for a static object.
/// </summary>
internal sealed record DynamicReport(string File, ulong? Offset, ulong? Address, List<DynamicRow> Entries);

/// <summary>What a dynamic entry's d_val/d_ptr is, as readelf -d prints it.</summary>
internal static class DynamicValueKind
{
    /// <summary>A virtual address (d_ptr: STRTAB, INIT, JMPREL, ...), printed in hex.</summary>
    public const string Address = "address";
    /// <summary>A size in bytes (STRSZ, RELASZ, ...), printed as <c>N (bytes)</c>.</summary>
    public const string Bytes = "bytes";
    /// <summary>A number of entries (VERDEFNUM, RELACOUNT), printed in decimal.</summary>
    public const string Count = "count";
    /// <summary>An offset into DT_STRTAB (NEEDED, SONAME, RUNPATH, ...), printed as the string.</summary>
    public const string String = "string";
    /// <summary>Flag bits (FLAGS, FLAGS_1), printed by name.</summary>
    public const string Flags = "flags";
    /// <summary>Another dynamic tag (PLTREL: RELA or REL).</summary>
    public const string Tag = "tag";
    /// <summary>No value (NULL).</summary>
    public const string None = "none";
}

/// <summary>
/// One dynamic entry: the tag as readelf spells it, the raw value and what it is (<see cref="DynamicValueKind"/>), the string it names (NEEDED, SONAME, RUNPATH, ...),
/// the flags it sets (FLAGS, FLAGS_1), and the whole interpretation as readelf prints it.
/// </summary>
internal sealed record DynamicRow(int Index, string Tag, long RawTag, ulong Value, string ValueKind, string? String, List<string>? Flags, string Display);
