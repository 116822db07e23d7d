using System.Globalization;
using System.Text.RegularExpressions;

namespace Loader.Tests.Oracles;

/// <summary>The readelf output parser: the document, the file header, sections, program headers and the dynamic section.</summary>
public static partial class Readelf
{
    private sealed partial class Parser(string text)
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
    }
}
