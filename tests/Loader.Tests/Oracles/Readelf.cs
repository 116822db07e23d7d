using System.Buffers.Binary;
using System.Diagnostics;
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
        var start = new ProcessStartInfo("readelf")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.ArgumentList.Add(path);
        start.Environment["LC_ALL"] = "C";
        start.Environment["LANG"] = "C";

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start readelf");
        // stderr on a thread of its own, stdout on this one: no thread-pool work, so callers may run many
        // readelfs from Parallel.ForEach without starving the pool (async reads did, 6x slower).
        string stderr = "";
        var errorReader = new Thread(() => stderr = process.StandardError.ReadToEnd()) { IsBackground = true, Name = "readelf stderr" };
        errorReader.Start();
        string stdout = process.StandardOutput.ReadToEnd();
        errorReader.Join();
        process.WaitForExit();
        return new ReadelfResult(process.ExitCode, stdout, stderr);
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

    // ---- regexes ------------------------------------------------------------------------------

    [GeneratedRegex(@"^(?<rest>.*) \((?<n>\d+)\)$")]
    private static partial Regex VersionIndexRegex();

    [GeneratedRegex(@"^  (?<key>[^:]+):\s+(?<value>.*?)\s*$")]
    private static partial Regex HeaderFieldRegex();

    [GeneratedRegex(@"^(?<n>0x[0-9a-fA-F]+|\d+)")]
    private static partial Regex LeadingNumberRegex();

    [GeneratedRegex(@"^There are (?<n>\d+) section headers, starting at offset 0x(?<off>[0-9a-f]+):$")]
    private static partial Regex SectionCountRegex();

    [GeneratedRegex(@"^  \[ *(?<nr>\d+)\] (?<name>.*?) +(?<type>\S+) +(?<addr>[0-9a-f]+) (?<off>[0-9a-f]+) (?<size>[0-9a-f]+) (?<es>[0-9a-f]+) +(?<flg>[A-Za-z]*) +(?<lk>\d+) +(?<inf>\d+) +(?<al>\d+)$")]
    private static partial Regex SectionRowRegex();

    [GeneratedRegex(@"^(Elf file type is .*|Entry point 0x[0-9a-f]+|There are \d+ program headers?, starting at offset \d+)$")]
    private static partial Regex ProgramPreambleRegex();

    [GeneratedRegex(@"^  (?<type>\S.*?) +0x(?<off>[0-9a-f]+) 0x(?<va>[0-9a-f]+) 0x(?<pa>[0-9a-f]+) 0x(?<fs>[0-9a-f]+) 0x(?<ms>[0-9a-f]+) (?<flg>[R ][W ][E ]) 0x(?<al>[0-9a-f]+)$")]
    private static partial Regex ProgramRowRegex();

    [GeneratedRegex(@"^\s+\[Requesting program interpreter: (?<path>.*)\]$")]
    private static partial Regex InterpreterRegex();

    [GeneratedRegex(@"^   (?<seg>\d+|None) *(?<sections>.*)$")]
    private static partial Regex MappingRowRegex();

    [GeneratedRegex(@"^Dynamic section at offset 0x(?<off>[0-9a-f]+) contains (?<n>\d+) entr(y|ies):$")]
    private static partial Regex DynamicHeaderRegex();

    [GeneratedRegex(@"^ 0x(?<tag>[0-9a-f]+) \((?<name>[^)]*)\)(?: +(?<value>.*?))? *$")]
    private static partial Regex DynamicRowRegex();

    [GeneratedRegex(@"^(?<label>[A-Za-z][A-Za-z ]*): \[(?<name>.*)\]$")]
    private static partial Regex DynamicNameValueRegex();

    [GeneratedRegex(@"^[A-Z0-9_]+(?: [A-Z0-9_]+)*$")]
    private static partial Regex WordsRegex();

    [GeneratedRegex(@"^Relocation section '(?<name>.*)' at offset 0x(?<off>[0-9a-f]+) contains (?<n>\d+) entr(y|ies):$")]
    private static partial Regex RelocationHeaderRegex();

    [GeneratedRegex(@"^'(?<name>[A-Z]+)' relocation section at offset 0x(?<off>[0-9a-f]+) contains (?<n>\d+) bytes?:$")]
    private static partial Regex DynamicRelocationHeaderRegex();

    [GeneratedRegex(@"^ +(?<n>\d+) offsets?$")]
    private static partial Regex RelrCountRegex();

    [GeneratedRegex(@"^[0-9a-f]+$")]
    private static partial Regex HexLineRegex();

    [GeneratedRegex(@"^(?<off>[0-9a-f]+) +(?<info>[0-9a-f]+) +(?<type>unrecognized: *[0-9a-f]+|\S+)(?: +(?<rest>.*?))? *$")]
    private static partial Regex RelocationRowRegex();

    [GeneratedRegex(@"^(?:(?<sv>[0-9a-f]+)|(?<ifunc>\S*\(\))) +(?<name>.*?) (?<sign>[+-]) (?<add>[0-9a-f]+)$")]
    private static partial Regex RelaSymbolRegex();

    [GeneratedRegex(@"^(?:(?<sv>[0-9a-f]+)|(?<ifunc>\S*\(\))) +(?<name>.*)$")]
    private static partial Regex RelSymbolRegex();

    [GeneratedRegex(@"^Symbol table (?:'(?<name>.*)'|for image) contains (?<n>\d+) entr(y|ies):$")]
    private static partial Regex SymbolHeaderRegex();

    [GeneratedRegex(@"^ *(?<num>\d+): (?<value>[0-9a-f]+) +(?<size>0x[0-9a-f]+|\d+) (?<type><[^>]*>: [0-9a-fx]+|[A-Z_]+) +(?<bind><[^>]*>: [0-9a-fx]+|[A-Z_]+) +(?<vis>[A-Z]+|<[^>]*>(?:: [0-9a-fx]+)?)(?: +\[(?<other>[^\]]*)\])? +(?<ndx>UND|ABS|COM|ANSI_COM|SCOM|SUND|PRC\[0x[0-9a-f]+\]|OS \[0x[0-9a-f]+\]|RSV\[0x[0-9a-f]+\]|bad section index\[ *-?\d+\]|\d+)(?: (?<name>.*))?$")]
    private static partial Regex SymbolRowRegex();

    [GeneratedRegex(@"^Displaying notes found (?:in: (?<section>.*)|at file offset 0x(?<off>[0-9a-f]+) with length 0x(?<len>[0-9a-f]+):)$")]
    private static partial Regex NotesHeaderRegex();

    [GeneratedRegex(@"^  (?<owner>\S.*?) +0x(?<size>[0-9a-f]+)\t(?<type>[^\t]*)(?:\t(?<desc>.*))?$")]
    private static partial Regex NoteRowRegex();

    [GeneratedRegex(@"Build ID: (?<id>[0-9a-f]+)")]
    private static partial Regex BuildIdRegex();

    private static readonly HashSet<string> InformationalLines =
    [
        "There are no relocations in this file.",
        "There are no static relocations in this file.",
        "There are no dynamic relocations in this file.",
        "To see the dynamic relocations add --use-dynamic to the command line.",
        "Dynamic symbol information is not available for displaying symbols.",
        "There are no section groups in this file.",
    ];

    // ---- fast paths for the big tables (readelf of libLLVM prints ~400k rows); each falls back to the regex,
    // which stays the definition of what is accepted.

    private readonly record struct RelocationFields(string Offset, string Info, string Type, string Rest);

    private readonly record struct SymbolFields(string Num, string Value, string Size, string Type, string Bind, string Vis, string? Other, string Ndx, string Name);

    private static bool IsHexDigits(ReadOnlySpan<char> text) => text.Length > 0 && !text.ContainsAnyExcept(HexDigits);

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdef");
    private static readonly System.Buffers.SearchValues<char> UpperWord = System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
    private static readonly System.Buffers.SearchValues<char> NdxWord = System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");

    /// <summary>Next token of non-space characters from <paramref name="at"/>; <paramref name="at"/> moves past it.</summary>
    private static ReadOnlySpan<char> Token(string line, ref int at)
    {
        int start = at;
        while (at < line.Length && line[at] != ' ')
        {
            at++;
        }
        return line.AsSpan(start, at - start);
    }

    private static int SkipSpaces(string line, int at)
    {
        while (at < line.Length && line[at] == ' ')
        {
            at++;
        }
        return at;
    }

    private static RelocationFields? SplitRelocationRow(string line)
    {
        int at = 0;
        ReadOnlySpan<char> offset = Token(line, ref at);
        int afterOffset = at;
        at = SkipSpaces(line, at);
        ReadOnlySpan<char> info = Token(line, ref at);
        int afterInfo = at;
        at = SkipSpaces(line, at);
        ReadOnlySpan<char> type = Token(line, ref at);
        if (IsHexDigits(offset) && afterOffset < line.Length && IsHexDigits(info) && afterInfo < line.Length
            && type.Length > 0 && !type.StartsWith("unrecognized:"))
        {
            return new RelocationFields(offset.ToString(), info.ToString(), type.ToString(), line.AsSpan(at).Trim(' ').ToString());
        }
        Match m = RelocationRowRegex().Match(line);
        return m.Success ? new RelocationFields(m.Groups["off"].Value, m.Groups["info"].Value, m.Groups["type"].Value, m.Groups["rest"].Value) : null;
    }

    private static bool IsBareAddend(string rest) => IsHexDigits(rest.AsSpan(rest.StartsWith('-') ? 1 : 0));

    /// <summary>"value name + addend" (or "name() name - addend" for an IFUNC) when plainly so; null sends the caller to the regex.</summary>
    private static (ulong? Value, bool Ifunc, string Name, long Addend)? SplitRelaSymbol(string rest)
    {
        int lastSpace = rest.LastIndexOf(' ');
        if (lastSpace < 3 || rest[lastSpace - 2] != ' ' || rest[lastSpace - 1] is not ('+' or '-') || !IsHexDigits(rest.AsSpan(lastSpace + 1)))
        {
            return null;
        }
        int firstSpace = rest.IndexOf(' ');
        if (firstSpace > lastSpace - 2)
        {
            return null;
        }
        ReadOnlySpan<char> value = rest.AsSpan(0, firstSpace);
        bool ifunc = !IsHexDigits(value);
        if (ifunc && !value.EndsWith("()"))
        {
            return null;
        }
        string name = rest.AsSpan(firstSpace, lastSpace - 2 - firstSpace).TrimStart(' ').ToString();
        ulong magnitude = ParseHex(rest[(lastSpace + 1)..]);
        return (ifunc ? null : ParseHex(value.ToString()), ifunc, name, rest[lastSpace - 1] == '-' ? -(long)magnitude : (long)magnitude);
    }

    private static SymbolFields? SplitSymbolRow(string line)
    {
        int at = SkipSpaces(line, 0);
        ReadOnlySpan<char> num = Token(line, ref at);
        at = SkipSpaces(line, at);
        ReadOnlySpan<char> value = Token(line, ref at);
        at = SkipSpaces(line, at);
        ReadOnlySpan<char> size = Token(line, ref at);
        at = SkipSpaces(line, at);
        ReadOnlySpan<char> type = Token(line, ref at);
        at = SkipSpaces(line, at);
        ReadOnlySpan<char> bind = Token(line, ref at);
        at = SkipSpaces(line, at);
        ReadOnlySpan<char> vis = Token(line, ref at);
        at = SkipSpaces(line, at);
        ReadOnlySpan<char> ndx = Token(line, ref at);
        bool simple = num.Length > 1 && num[^1] == ':' && !num[..^1].ContainsAnyExceptInRange('0', '9')
            && IsHexDigits(value)
            && size.Length > 0 && (size.StartsWith("0x") ? IsHexDigits(size[2..]) : !size.ContainsAnyExceptInRange('0', '9'))
            && type.Length > 0 && !type.ContainsAnyExcept(UpperWord)
            && bind.Length > 0 && !bind.ContainsAnyExcept(UpperWord)
            && vis.Length > 0 && !vis.ContainsAnyExcept(UpperWord)
            && ndx.Length > 0 && !ndx.ContainsAnyExcept(NdxWord) && ndx is not ("OS" or "bad")
            && (at == line.Length || line[at] == ' ');
        if (simple)
        {
            string name = at == line.Length ? "" : line[(at + 1)..];
            return new SymbolFields(num[..^1].ToString(), value.ToString(), size.ToString(), type.ToString(), bind.ToString(),
                vis.ToString(), null, ndx.ToString(), name);
        }
        Match m = SymbolRowRegex().Match(line);
        return m.Success
            ? new SymbolFields(m.Groups["num"].Value, m.Groups["value"].Value, m.Groups["size"].Value, m.Groups["type"].Value,
                m.Groups["bind"].Value, m.Groups["vis"].Value, m.Groups["other"].Success ? m.Groups["other"].Value : null,
                m.Groups["ndx"].Value, m.Groups["name"].Value)
            : null;
    }

    // ---- the parser ---------------------------------------------------------------------------

    private sealed class Parser(string text)
    {
        private readonly string[] _lines = (text.Contains('\r') ? text.Replace("\r\n", "\n", StringComparison.Ordinal) : text).Split('\n');
        private int _next;

        private ReadelfFileHeader? _header;
        private List<ReadelfProgramHeader>? _programHeaders;
        private string? _interpreter;
        private readonly List<ReadelfSegmentSections> _mapping = [];
        private List<ReadelfSection>? _sections;
        private ReadelfDynamicSection? _dynamic;
        private readonly List<ReadelfSymbolTable> _symbolTables = [];
        private readonly List<ReadelfRelocationSection> _relocations = [];
        private readonly List<ReadelfNote> _notes = [];
        private bool _noDynamic, _noRelocations, _noProgramHeaders, _noSections;

        private bool AtEnd => _next >= _lines.Length;
        private string Peek => _lines[_next];
        private bool AtBlank => AtEnd || Peek.Length == 0;
        private string Take() => _lines[_next++];

        private ReadelfParseException Fail(string message) =>
            new(message, _next + 1, _next < _lines.Length ? _lines[_next] : "<end of output>");

        private ReadelfParseException FailAt(string message, int lineIndex) => new(message, lineIndex + 1, _lines[lineIndex]);

        private void Expect(Func<string, bool> test, string what)
        {
            if (AtEnd || !test(Peek))
            {
                throw Fail($"expected {what}");
            }
            _next++;
        }

        public ReadelfOutput Run()
        {
            while (!AtEnd)
            {
                string line = Peek;
                Match m;
                if (line.Length == 0 || InformationalLines.Contains(line) || ProgramPreambleRegex().IsMatch(line))
                {
                    _next++;
                }
                else if (line == "ELF Header:")
                {
                    _next++;
                    ParseFileHeader();
                }
                else if (SectionCountRegex().IsMatch(line))
                {
                    _next++;
                }
                else if (line == "Section Headers:")
                {
                    _next++;
                    ParseSections();
                }
                else if (line == "There are no sections in this file.")
                {
                    _noSections = true;
                    _next++;
                }
                else if (line == "Program Headers:")
                {
                    _next++;
                    ParseProgramHeaders();
                }
                else if (line == " Section to Segment mapping:")
                {
                    _next++;
                    ParseMapping();
                }
                else if (line == "There are no program headers in this file.")
                {
                    _noProgramHeaders = true;
                    _next++;
                }
                else if ((m = DynamicHeaderRegex().Match(line)).Success)
                {
                    _next++;
                    ParseDynamic(ParseHex(m.Groups["off"].Value), long.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture));
                }
                else if (line == "There is no dynamic section in this file.")
                {
                    _noDynamic = true;
                    _next++;
                }
                else if ((m = RelocationHeaderRegex().Match(line)).Success)
                {
                    _next++;
                    ParseRelocations(m, countIsBytes: false);
                }
                else if ((m = DynamicRelocationHeaderRegex().Match(line)).Success)
                {
                    _next++;
                    ParseRelocations(m, countIsBytes: true);
                }
                else if ((m = SymbolHeaderRegex().Match(line)).Success)
                {
                    _next++;
                    ParseSymbols(m.Groups["name"].Success ? m.Groups["name"].Value : null, long.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture));
                }
                else if ((m = NotesHeaderRegex().Match(line)).Success)
                {
                    _next++;
                    ParseNotes(m);
                }
                else
                {
                    throw Fail("unexpected line");
                }
                if (line.StartsWith("There are no ", StringComparison.Ordinal) && line.Contains("relocations", StringComparison.Ordinal))
                {
                    _noRelocations = true;
                }
            }

            ReadelfProgramHeaders? programHeaders = _programHeaders is null
                ? null
                : new ReadelfProgramHeaders(_programHeaders, _interpreter, _mapping);
            return new ReadelfOutput(_header, programHeaders, _sections, _dynamic, _symbolTables, _relocations, _notes,
                _noDynamic, _noRelocations, _noProgramHeaders, _noSections);
        }

        private void ParseFileHeader()
        {
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            var lineOf = new Dictionary<string, int>(StringComparer.Ordinal);
            while (!AtBlank)
            {
                Match m = HeaderFieldRegex().Match(Peek);
                if (!m.Success)
                {
                    throw Fail("unexpected line in ELF header");
                }
                string key = m.Groups["key"].Value;
                // "Version" comes twice: EI_VERSION ("1 (current)") then e_version ("0x1").
                if (fields.ContainsKey(key))
                {
                    key += " (e_version)";
                }
                fields[key] = m.Groups["value"].Value;
                lineOf[key] = _next;
                _next++;
            }

            string Field(string key) => fields.TryGetValue(key, out string? value) ? value : throw Fail($"ELF header has no '{key}'");
            ulong Number(string key)
            {
                Match n = LeadingNumberRegex().Match(Field(key));
                return n.Success ? ParseNumber(n.Groups["n"].Value) : throw FailAt($"no number in '{key}'", lineOf[key]);
            }

            string type = Field("Type");
            string typeName = type.Split(' ')[0];
            int? typeNumber = typeName switch
            {
                "NONE" => 0,
                "REL" => 1,
                "EXEC" => 2,
                "DYN" => 3,
                "CORE" => 4,
                _ => null,
            };
            string machine = Field("Machine");
            int? machineNumber = MachineNumbers.TryGetValue(machine, out int known) ? known
                : machine.StartsWith("<unknown>: 0x", StringComparison.Ordinal) ? (int)ParseHex(machine["<unknown>: ".Length..])
                : null;

            _header = new ReadelfFileHeader(
                Class: Field("Class"),
                Data: Field("Data"),
                OsAbi: Field("OS/ABI"),
                Type: type,
                TypeName: typeName,
                TypeNumber: typeNumber,
                Machine: machine,
                MachineNumber: machineNumber,
                Entry: Number("Entry point address"),
                ProgramHeadersOffset: Number("Start of program headers"),
                SectionHeadersOffset: Number("Start of section headers"),
                Flags: Number("Flags"),
                HeaderSize: (long)Number("Size of this header"),
                ProgramHeaderEntrySize: (long)Number("Size of program headers"),
                ProgramHeaderCount: (long)Number("Number of program headers"),
                SectionHeaderEntrySize: (long)Number("Size of section headers"),
                SectionHeaderCount: (long)Number("Number of section headers"),
                SectionNameTableIndex: (long)Number("Section header string table index"),
                Fields: fields);
        }

        private void ParseSections()
        {
            Expect(l => l.StartsWith("  [Nr] Name", StringComparison.Ordinal), "the section header column titles");
            var sections = new List<ReadelfSection>();
            while (!AtEnd && Peek != "Key to Flags:")
            {
                Match m = SectionRowRegex().Match(Peek);
                if (!m.Success)
                {
                    throw Fail("unexpected line in section headers");
                }
                sections.Add(new ReadelfSection(
                    Index: int.Parse(m.Groups["nr"].Value, CultureInfo.InvariantCulture),
                    Name: m.Groups["name"].Value,
                    Type: m.Groups["type"].Value,
                    Address: ParseHex(m.Groups["addr"].Value),
                    Offset: ParseHex(m.Groups["off"].Value),
                    Size: ParseHex(m.Groups["size"].Value),
                    EntrySize: ParseHex(m.Groups["es"].Value),
                    Flags: m.Groups["flg"].Value,
                    Link: long.Parse(m.Groups["lk"].Value, CultureInfo.InvariantCulture),
                    Info: long.Parse(m.Groups["inf"].Value, CultureInfo.InvariantCulture),
                    Alignment: ulong.Parse(m.Groups["al"].Value, CultureInfo.InvariantCulture)));
                _next++;
            }
            Expect(l => l == "Key to Flags:", "'Key to Flags:'");
            while (!AtBlank)
            {
                if (!Peek.StartsWith("  ", StringComparison.Ordinal))
                {
                    throw Fail("unexpected line in the key to flags");
                }
                _next++;
            }
            _sections = sections;
        }

        private void ParseProgramHeaders()
        {
            Expect(l => l.StartsWith("  Type ", StringComparison.Ordinal) && l.Contains("Offset", StringComparison.Ordinal), "the program header column titles");
            var headers = new List<ReadelfProgramHeader>();
            while (!AtBlank)
            {
                Match m;
                if ((m = InterpreterRegex().Match(Peek)).Success)
                {
                    _interpreter = m.Groups["path"].Value;
                }
                else if ((m = ProgramRowRegex().Match(Peek)).Success)
                {
                    string flags = m.Groups["flg"].Value;
                    headers.Add(new ReadelfProgramHeader(
                        Index: headers.Count,
                        Type: m.Groups["type"].Value,
                        Offset: ParseHex(m.Groups["off"].Value),
                        VirtualAddress: ParseHex(m.Groups["va"].Value),
                        PhysicalAddress: ParseHex(m.Groups["pa"].Value),
                        FileSize: ParseHex(m.Groups["fs"].Value),
                        MemorySize: ParseHex(m.Groups["ms"].Value),
                        FlagsText: flags,
                        Flags: (flags[0] == 'R' ? ReadelfSegmentFlags.R : 0)
                            | (flags[1] == 'W' ? ReadelfSegmentFlags.W : 0)
                            | (flags[2] == 'E' ? ReadelfSegmentFlags.X : 0),
                        Align: ParseHex(m.Groups["al"].Value)));
                }
                else
                {
                    throw Fail("unexpected line in program headers");
                }
                _next++;
            }
            _programHeaders = headers;
        }

        private void ParseMapping()
        {
            Expect(l => l.StartsWith("  Segment Sections", StringComparison.Ordinal), "'Segment Sections...'");
            while (!AtBlank)
            {
                Match m = MappingRowRegex().Match(Peek);
                if (!m.Success)
                {
                    throw Fail("unexpected line in section to segment mapping");
                }
                string segment = m.Groups["seg"].Value;
                _mapping.Add(new ReadelfSegmentSections(
                    segment == "None" ? -1 : int.Parse(segment, CultureInfo.InvariantCulture),
                    m.Groups["sections"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
                _next++;
            }
        }

        private void ParseDynamic(ulong offset, long declared)
        {
            Expect(l => l.StartsWith("  Tag ", StringComparison.Ordinal), "the dynamic section column titles");
            var entries = new List<ReadelfDynamicEntry>();
            while (!AtBlank)
            {
                Match m = DynamicRowRegex().Match(Peek);
                if (!m.Success)
                {
                    throw Fail("unexpected line in dynamic section");
                }
                entries.Add(DynamicEntry(ParseHex(m.Groups["tag"].Value), m.Groups["name"].Value, m.Groups["value"].Value));
                _next++;
            }
            _dynamic = new ReadelfDynamicSection(offset, declared, entries);
        }

        private static ReadelfDynamicEntry DynamicEntry(ulong tag, string tagName, string value)
        {
            ReadelfDynamicEntry Make(ReadelfDynamicValueKind kind, ulong? number = null, string? label = null, string? name = null, IReadOnlyList<string>? words = null) =>
                new(tag, tagName, value, kind, number, label, name, words ?? []);

            if (value.Length == 0)
            {
                return Make(ReadelfDynamicValueKind.Empty);
            }
            if (tagName == "PLTREL" && value is "RELA" or "REL")
            {
                return Make(ReadelfDynamicValueKind.PltRel, number: value == "RELA" ? 7UL : 17UL, name: value);
            }
            if (value.StartsWith("0x", StringComparison.Ordinal) && HexLineRegex().IsMatch(value.AsSpan(2)))
            {
                return Make(ReadelfDynamicValueKind.Hex, number: ParseHex(value));
            }
            if (value.All(char.IsAsciiDigit))
            {
                return Make(ReadelfDynamicValueKind.Decimal, number: ulong.Parse(value, CultureInfo.InvariantCulture));
            }
            if (value.EndsWith(" (bytes)", StringComparison.Ordinal) && value[..^" (bytes)".Length].All(char.IsAsciiDigit) && value.Length > " (bytes)".Length)
            {
                return Make(ReadelfDynamicValueKind.Bytes, number: ulong.Parse(value[..^" (bytes)".Length], CultureInfo.InvariantCulture));
            }
            if (value == "Flags:" || value.StartsWith("Flags: ", StringComparison.Ordinal))
            {
                return Make(ReadelfDynamicValueKind.Flags, words: value["Flags:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            }
            if (tagName == "FLAGS" && WordsRegex().IsMatch(value))
            {
                return Make(ReadelfDynamicValueKind.Flags, words: value.Split(' '));
            }
            Match named = DynamicNameValueRegex().Match(value);
            if (named.Success)
            {
                return Make(ReadelfDynamicValueKind.Name, label: named.Groups["label"].Value, name: named.Groups["name"].Value);
            }
            return Make(ReadelfDynamicValueKind.Other);
        }

        private void ParseRelocations(Match header, bool countIsBytes)
        {
            string name = header.Groups["name"].Value;
            ulong offset = ParseHex(header.Groups["off"].Value);
            long declared = long.Parse(header.Groups["n"].Value, CultureInfo.InvariantCulture);
            if (AtEnd)
            {
                throw Fail("relocation section ends before its column titles");
            }

            Match relr = RelrCountRegex().Match(Peek);
            if (relr.Success)
            {
                _next++;
                var addresses = new List<ulong>();
                while (!AtBlank)
                {
                    if (!HexLineRegex().IsMatch(Peek))
                    {
                        throw Fail("unexpected line in RELR relocations");
                    }
                    addresses.Add(ParseHex(Take()));
                }
                _relocations.Add(new ReadelfRelocationSection(name, offset, declared, countIsBytes, ReadelfRelocationFormat.Relr,
                    [], addresses, long.Parse(relr.Groups["n"].Value, CultureInfo.InvariantCulture)));
                return;
            }

            string titles = Peek;
            if (!titles.Contains("Offset", StringComparison.Ordinal) || !titles.Contains("Info", StringComparison.Ordinal))
            {
                throw Fail("expected relocation column titles or 'N offsets'");
            }
            _next++;
            bool rela = titles.Contains("Addend", StringComparison.Ordinal);
            var entries = new List<ReadelfRelocation>();
            while (!AtBlank)
            {
                RelocationFields row = SplitRelocationRow(Peek) ?? throw Fail("unexpected line in relocations");
                string rest = row.Rest;
                ulong? symbolValue = null;
                string? rawName = null;
                long? addend = null;
                bool ifunc = false;
                if (rest.Length == 0)
                {
                    // symbol index 0 in REL, or -D without a symbol table
                }
                else if (rela && IsBareAddend(rest))
                {
                    addend = rest[0] == '-' ? -(long)ParseHex(rest[1..]) : (long)ParseHex(rest);
                }
                else if (rela && SplitRelaSymbol(rest) is { } fast)
                {
                    (symbolValue, ifunc, rawName, addend) = fast;
                }
                else if (rela)
                {
                    Match s = RelaSymbolRegex().Match(rest);
                    if (!s.Success)
                    {
                        throw Fail("unexpected symbol and addend in RELA relocation");
                    }
                    (symbolValue, ifunc) = s.Groups["sv"].Success ? (ParseHex(s.Groups["sv"].Value), false) : ((ulong?)null, true);
                    rawName = s.Groups["name"].Value;
                    ulong magnitude = ParseHex(s.Groups["add"].Value);
                    addend = s.Groups["sign"].Value == "-" ? -(long)magnitude : (long)magnitude;
                }
                else
                {
                    Match s = RelSymbolRegex().Match(rest);
                    if (!s.Success)
                    {
                        throw Fail("unexpected symbol in REL relocation");
                    }
                    (symbolValue, ifunc) = s.Groups["sv"].Success ? (ParseHex(s.Groups["sv"].Value), false) : ((ulong?)null, true);
                    rawName = s.Groups["name"].Value;
                }
                ReadelfSymbolName split = rawName is null ? default : SplitVersion(rawName);
                entries.Add(new ReadelfRelocation(
                    Offset: ParseHex(row.Offset),
                    Info: ParseHex(row.Info),
                    Type: row.Type,
                    SymbolValue: symbolValue,
                    SymbolRawName: rawName,
                    SymbolName: rawName is null ? null : split.Name,
                    SymbolVersion: split.Version,
                    SymbolVersionKind: split.VersionKind,
                    Addend: addend,
                    SymbolIsIfunc: ifunc));
                _next++;
            }
            _relocations.Add(new ReadelfRelocationSection(name, offset, declared, countIsBytes,
                rela ? ReadelfRelocationFormat.Rela : ReadelfRelocationFormat.Rel, entries, [], null));
        }

        private void ParseSymbols(string? sectionName, long declared)
        {
            Expect(l => l.TrimStart().StartsWith("Num:", StringComparison.Ordinal), "the symbol table column titles");
            var symbols = new List<ReadelfSymbol>();
            while (!AtBlank)
            {
                SymbolFields row = SplitSymbolRow(Peek) ?? throw Fail("unexpected line in symbol table");
                string rawName = row.Name;
                ReadelfSymbolName split = SplitVersion(rawName);
                string ndx = row.Ndx;
                symbols.Add(new ReadelfSymbol(
                    Index: long.Parse(row.Num, CultureInfo.InvariantCulture),
                    Value: ParseHex(row.Value),
                    Size: ParseNumber(row.Size),
                    Type: row.Type,
                    Bind: row.Bind,
                    Visibility: row.Vis,
                    OtherAnnotation: row.Other,
                    SectionIndex: ndx,
                    SectionNumber: ndx.All(char.IsAsciiDigit) ? int.Parse(ndx, CultureInfo.InvariantCulture) : null,
                    RawName: rawName,
                    Name: split.Name,
                    Version: split.Version,
                    VersionKind: split.VersionKind,
                    VersionIndex: split.VersionIndex));
                _next++;
            }
            _symbolTables.Add(new ReadelfSymbolTable(sectionName, declared, symbols));
        }

        private void ParseNotes(Match header)
        {
            string? section = header.Groups["section"].Success ? header.Groups["section"].Value : null;
            ulong? offset = header.Groups["off"].Success ? ParseHex(header.Groups["off"].Value) : null;
            ulong? length = header.Groups["len"].Success ? ParseHex(header.Groups["len"].Value) : null;
            Expect(l => l.StartsWith("  Owner ", StringComparison.Ordinal), "the notes column titles");

            string? owner = null, typeText = null;
            ulong size = 0;
            var description = new List<string>();
            void Flush()
            {
                if (owner is null)
                {
                    return;
                }
                string text = string.Join('\n', description);
                Match id = BuildIdRegex().Match(text);
                _notes.Add(new ReadelfNote(section, offset, length, owner, size, typeText!.Split(' ')[0], typeText, text,
                    id.Success ? id.Groups["id"].Value : null));
                owner = null;
                description.Clear();
            }

            while (!AtBlank)
            {
                Match m = NoteRowRegex().Match(Peek);
                if (m.Success)
                {
                    Flush();
                    owner = m.Groups["owner"].Value;
                    size = ParseHex(m.Groups["size"].Value);
                    typeText = m.Groups["type"].Value.Trim();
                    if (m.Groups["desc"].Success && m.Groups["desc"].Value.Trim().Length > 0)
                    {
                        description.Add(m.Groups["desc"].Value.Trim());
                    }
                }
                else if (owner is not null && (Peek[0] == ' ' || Peek[0] == '\t'))
                {
                    description.Add(Peek.Trim());
                }
                else
                {
                    throw Fail("unexpected line in notes");
                }
                _next++;
            }
            Flush();
        }
    }
}
