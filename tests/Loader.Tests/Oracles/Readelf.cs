using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Loader.Tests.Oracles;

/// <summary>Which readelf options <see cref="Readelf.ReadAll"/> uses.</summary>
public enum ReadelfMode
{
    /// <summary><see cref="Dynamic"/> when the file's e_shoff is 0 (no section headers), else <see cref="Sections"/>.</summary>
    Auto,
    /// <summary><c>readelf -W -h -l -S -d --dyn-syms -r -n</c>: tables found through the section headers.</summary>
    Sections,
    /// <summary><c>readelf -W -D -h -l -S -d -s -r -n</c>: tables found through the dynamic section
    /// (readelf 2.40 prints nothing for <c>-D --dyn-syms</c> and loses the relocations' symbols, so -D uses <c>-s</c>).</summary>
    Dynamic,
}

/// <summary>
/// GNU readelf (2.40, <c>-W</c>) as an outside oracle: runs it with <c>LC_ALL=C</c> and parses what it prints
/// into the records of ReadelfOutput.cs. The parser is strict: a line it does not understand, at the top level
/// or inside a table, is a <see cref="ReadelfParseException"/> naming the line, never skipped.
/// </summary>
public static partial class Readelf
{
    /// <summary>The options <see cref="Rejects"/> runs with (before the path).</summary>
    public static readonly IReadOnlyList<string> RejectOptions = ["-W", "-h", "-l", "-d", "--dyn-syms", "-r"];

    /// <summary>Runs <c>readelf args... path</c> with LC_ALL=C and returns its exit code and both streams.</summary>
    public static ReadelfResult Run(string path, params string[] args)
    {
        var run = ChildProcess.Run("readelf", [.. args, path]);
        return new ReadelfResult(run.ExitCode, run.Stdout, run.Stderr);
    }

    /// <summary>readelf's stdout for <paramref name="args"/> (options, then files); fails the test unless readelf exits 0.</summary>
    public static string Output(params string[] args)
    {
        var run = ChildProcess.Run("readelf", args);
        Assert.True(run.ExitCode == 0, $"readelf {string.Join(' ', args)} failed: {run.Stderr}");
        return run.Stdout;
    }

    /// <summary>
    /// True when <c>readelf -W -h -l -d --dyn-syms -r path</c> (<see cref="RejectOptions"/>) exits non-zero or prints
    /// <c>Error:</c> on stdout or stderr. Warnings do not count. A file readelf rejects must be rejected by our reader.
    /// Section headers (-S), notes (-n) and -D are left out on purpose: the loader reads neither section headers
    /// nor notes, and readelf 2.40's -D prints spurious "bad symbol index" errors for relocations.
    /// </summary>
    public static bool Rejects(string path) => Run(path, [.. RejectOptions]).HasErrors;

    /// <summary>The options <see cref="ReadAll"/> uses for <paramref name="mode"/> (not Auto).</summary>
    public static string[] OptionsFor(ReadelfMode mode) => mode switch
    {
        ReadelfMode.Sections => ["-W", "-h", "-l", "-S", "-d", "--dyn-syms", "-r", "-n"],
        ReadelfMode.Dynamic => ["-W", "-D", "-h", "-l", "-S", "-d", "-s", "-r", "-n"],
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Auto has no options of its own"),
    };

    /// <summary>
    /// One readelf run with every part this oracle parses (header, program headers, section headers, dynamic
    /// section, dynamic symbols, relocations, notes), parsed. Does not throw for a non-zero exit code (see
    /// <see cref="ReadelfReport.HasErrors"/>); throws <see cref="ReadelfParseException"/> for output it does not understand.
    /// </summary>
    public static ReadelfReport ReadAll(string path, ReadelfMode mode = ReadelfMode.Auto)
    {
        if (mode == ReadelfMode.Auto)
        {
            mode = HasNoSectionHeaders(path) ? ReadelfMode.Dynamic : ReadelfMode.Sections;
        }
        string[] options = OptionsFor(mode);
        ReadelfResult run = Run(path, options);
        return new ReadelfReport(path, options, run.ExitCode, run.Stdout, run.Stderr, Parse(run.Stdout));
    }

    /// <summary>Parses readelf -W output (any mix of -h -l -S -d --dyn-syms/-s -r -n, with or without -D).</summary>
    public static ReadelfOutput Parse(string stdout) => new Parser(stdout).Run();

    private static ReadOnlySpan<byte> ElfMagic => [0x7F, (byte)'E', (byte)'L', (byte)'F'];

    /// <summary>True when the file is ELF and its e_shoff is 0. Unreadable or non-ELF files: false.</summary>
    public static bool HasNoSectionHeaders(string path)
    {
        Span<byte> header = stackalloc byte[0x30];
        int read;
        try
        {
            using var stream = File.OpenRead(path);
            read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }
        catch (IOException)
        {
            return false;
        }
        if (read < header.Length || !header[..4].SequenceEqual(ElfMagic))
        {
            return false;
        }
        bool little = header[5] != 2;
        ulong shoff = header[4] == 2
            ? (little ? BinaryPrimitives.ReadUInt64LittleEndian(header[0x28..]) : BinaryPrimitives.ReadUInt64BigEndian(header[0x28..]))
            : (little ? BinaryPrimitives.ReadUInt32LittleEndian(header[0x20..]) : BinaryPrimitives.ReadUInt32BigEndian(header[0x20..]));
        return shoff == 0;
    }

    /// <summary>e_machine for the machine names readelf 2.40 prints that this oracle knows.</summary>
    public static readonly IReadOnlyDictionary<string, int> MachineNumbers = new Dictionary<string, int>
    {
        ["None"] = 0,
        ["Sparc"] = 2,
        ["Intel 80386"] = 3,
        ["Motorola m68k family"] = 4,
        ["MIPS R3000"] = 8,
        ["PowerPC"] = 20,
        ["PowerPC64"] = 21,
        ["IBM S/390"] = 22,
        ["ARM"] = 40,
        ["Renesas / SuperH SH"] = 42,
        ["Sparc v9"] = 43,
        ["Intel IA-64"] = 50,
        ["Advanced Micro Devices X86-64"] = 62,
        ["AArch64"] = 183,
        ["RISC-V"] = 243,
        ["Linux BPF"] = 247,
        ["LoongArch"] = 258,
    };

    /// <summary>Splits a name as readelf prints it: <c>n@@V</c>, <c>n@V</c>, <c>n@V (N)</c>. The version is after the last '@'.</summary>
    public static ReadelfSymbolName SplitVersion(string raw)
    {
        string text = raw;
        int? index = null;
        Match reference = raw.EndsWith(')') ? VersionIndexRegex().Match(raw) : Match.Empty;
        if (reference.Success && reference.Groups["rest"].Value.LastIndexOf('@') > 0)
        {
            text = reference.Groups["rest"].Value;
            index = int.Parse(reference.Groups["n"].Value, CultureInfo.InvariantCulture);
        }
        int at = text.LastIndexOf('@');
        if (at <= 0)
        {
            return new ReadelfSymbolName(raw, null, ReadelfVersionKind.None, null);
        }
        string version = text[(at + 1)..];
        if (index is not null)
        {
            return new ReadelfSymbolName(text[..at], version, ReadelfVersionKind.Reference, index);
        }
        return text[at - 1] == '@' && at >= 2
            ? new ReadelfSymbolName(text[..(at - 1)], version, ReadelfVersionKind.Default, null)
            : new ReadelfSymbolName(text[..at], version, ReadelfVersionKind.Hidden, null);
    }

    internal static ulong ParseHex(string text) =>
        ulong.Parse(text.StartsWith("0x", StringComparison.Ordinal) ? text.AsSpan(2) : text.AsSpan(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    internal static ulong ParseNumber(string text) =>
        text.StartsWith("0x", StringComparison.Ordinal)
            ? ParseHex(text)
            : ulong.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
}
