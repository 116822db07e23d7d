using System.Globalization;
using System.Text.RegularExpressions;

namespace Loader.Tests.Oracles;

/// <summary>The readelf output parser, continued: relocation tables, symbol tables and notes.</summary>
public static partial class Readelf
{
    private sealed partial class Parser
    {
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
