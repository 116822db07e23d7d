using System.Text.RegularExpressions;

namespace Loader.Tests.Oracles;

/// <summary>The patterns readelf -W lines are matched against, and fast paths for the big tables.</summary>
public static partial class Readelf
{
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
}
