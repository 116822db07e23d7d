using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Elf;

namespace Loader.Cli.Commands;

/// <summary><c>loader dynamic FILE</c>: the PT_DYNAMIC entries with their values interpreted, as <c>readelf -d</c> shows them.</summary>
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
        return new DynamicReport(elf.Name, elf.Dynamic?.Address, entries);
    }

    private static DynamicRow Interpret(ElfFile elf, int index, DynamicEntry entry)
    {
        string name = ElfNames.DynamicTag(entry.RawTag);
        ulong v = entry.Value;
        string? text = null;
        List<string>? flags = null;
        string display;
        switch (entry.Tag)
        {
            case DynamicTag.Needed: text = Str(); display = $"Shared library: [{text}]"; break;
            case DynamicTag.SoName: text = Str(); display = $"Library soname: [{text}]"; break;
            case DynamicTag.RPath: text = Str(); display = $"Library rpath: [{text}]"; break;
            case DynamicTag.RunPath: text = Str(); display = $"Library runpath: [{text}]"; break;
            case DynamicTag.Auxiliary: text = Str(); display = $"Auxiliary library: [{text}]"; break;
            case DynamicTag.Filter: text = Str(); display = $"Filter library: [{text}]"; break;
            case DynamicTag.Audit: text = Str(); display = $"Audit library: [{text}]"; break;
            case DynamicTag.DepAudit: text = Str(); display = $"Dependency audit library: [{text}]"; break;
            case DynamicTag.PltRelSz or DynamicTag.RelaSz or DynamicTag.RelaEnt or DynamicTag.StrSz or DynamicTag.SymEnt
                or DynamicTag.RelSz or DynamicTag.RelEnt or DynamicTag.InitArraySz or DynamicTag.FiniArraySz
                or DynamicTag.PreinitArraySz or DynamicTag.RelrSz or DynamicTag.RelrEnt or DynamicTag.SymInSz
                or DynamicTag.SymInEnt or DynamicTag.MoveEnt or DynamicTag.MoveSz or DynamicTag.PltPadSz
                or DynamicTag.GnuConflictSz or DynamicTag.GnuLibListSz:
                display = $"{v} (bytes)";
                break;
            case DynamicTag.VerDefNum or DynamicTag.VerNeedNum or DynamicTag.RelaCount or DynamicTag.RelCount:
                display = v.ToString();
                break;
            case DynamicTag.PltRel:
                display = v switch { (ulong)DynamicTag.Rela => "RELA", (ulong)DynamicTag.Rel => "REL", _ => ElfNames.Hex(v) };
                break;
            case DynamicTag.Flags:
                flags = ElfNames.DynamicFlags((DynamicFlags)v);
                display = flags.Count == 0 ? "0" : string.Join(' ', flags);
                break;
            case DynamicTag.Flags1:
                flags = ElfNames.DynamicFlags1((DynamicFlags1)v);
                display = "Flags: " + string.Join(' ', flags);
                break;
            default:
                display = ElfNames.Hex(v);
                break;
        }
        return new DynamicRow(index, name, entry.RawTag, v, text, flags, display);

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
        stdout.WriteLine($"Dynamic section at {ElfNames.Hex(r.Address.Value)} contains {r.Entries.Count} entries:");
        var table = new TextTable(new Column("Tag"), new Column("Type"), new Column("Name/Value")) { Indent = 2 };
        foreach (var e in r.Entries)
            table.Add("0x" + ElfNames.Address((ulong)e.RawTag, elfClass), $"({e.Tag})", e.Display);
        table.Write(stdout);
    }
}

/// <summary>The dynamic section, as <c>loader dynamic</c> prints it; <see cref="Address"/> is null for a static object.</summary>
internal sealed record DynamicReport(string File, ulong? Address, List<DynamicRow> Entries);

/// <summary>
/// One dynamic entry: the tag as readelf spells it, the raw value, the string it names (NEEDED, SONAME, RUNPATH, ...),
/// the flags it sets (FLAGS, FLAGS_1), and the whole interpretation as readelf prints it.
/// </summary>
internal sealed record DynamicRow(int Index, string Tag, long RawTag, ulong Value, string? String, List<string>? Flags, string Display);
