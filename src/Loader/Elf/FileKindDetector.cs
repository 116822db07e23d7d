using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Loader.Elf;

/// <summary>
/// Names what a file that does not begin with <c>\x7fELF</c> is, from its first <see cref="InspectedLength"/> bytes,
/// so the bad-magic refusal says "a linker script; the library it names is …" rather than "bad magic 2f 2a 20 47".
/// Only the first bytes are read, so <see cref="ElfFile"/> (the whole file in memory) and the mapper (one pread of
/// the first page) word the same file the same way.
/// </summary>
internal static class FileKindDetector
{
    /// <summary>How many bytes are inspected: the mapper's first pread.</summary>
    public const int InspectedLength = 4096;

    private static ReadOnlySpan<byte> ArMagic => "!<arch>\n"u8;
    private static ReadOnlySpan<byte> ThinArMagic => "!<thin>\n"u8;

    // The commands whose arguments are files to link (GNU ld manual, "File Commands"); AS_NEEDED nests in them.
    private static readonly string[] FileCommands = ["GROUP", "INPUT"];
    // Commands that open a linker script (ld's own scripts and the .so scripts glibc, ncurses and others install).
    private static readonly string[] ScriptCommands = ["GROUP", "INPUT", "OUTPUT_FORMAT", "OUTPUT_ARCH", "SEARCH_DIR", "TARGET", "ENTRY", "INCLUDE", "SECTIONS"];

    /// <summary>The exception for a file whose first bytes (<paramref name="start"/>) are not the ELF magic.</summary>
    public static NotElfFileException Describe(string fileName, ReadOnlySpan<byte> start)
    {
        var bytes = start[..Math.Min(start.Length, InspectedLength)];
        if (bytes.StartsWith(ArMagic) || bytes.StartsWith(ThinArMagic))
            return new NotElfFileException(fileName, FileKind.ArArchive, [],
                $"{fileName}: an ar archive (a static library), not an ELF file: a static library is linked into a program by ld, not loaded");
        if (TryReadText(bytes, start.Length > bytes.Length, out string? text))
        {
            string code = StripComments(text);
            if (IsLinkerScript(code))
            {
                var named = NamedFiles(code);
                return new NotElfFileException(fileName, FileKind.LinkerScript, named, $"{fileName}: a GNU ld linker script, not an ELF file; {Names(named)}");
            }
            return new NotElfFileException(fileName, FileKind.Text, [], $"{fileName}: a text file, not an ELF file (it begins \"{FirstLine(text)}\")");
        }
        string magic = "0x" + Convert.ToHexStringLower(bytes[..Math.Min(bytes.Length, 4)]);
        return new NotElfFileException(fileName, FileKind.Unknown, [], $"{fileName}: not an ELF file (magic {magic})");
    }

    private static string Names(IReadOnlyList<string> named)
    {
        if (named.Count == 0)
            return "it names no library";
        string library = named.FirstOrDefault(NotElfFileException.IsSharedObjectName) ?? named[0];
        var others = named.Where(n => n != library).ToList();
        return others.Count == 0
            ? $"the library it names is {library}"
            : $"the library it names is {library} (it also names {string.Join(", ", others)})";
    }

    // UTF-8 with no control characters but whitespace; an incomplete sequence is allowed only where the inspected
    // bytes were cut short of the file's end.
    private static bool TryReadText(ReadOnlySpan<byte> bytes, bool cut, [NotNullWhen(true)] out string? text)
    {
        text = null;
        var rest = bytes;
        while (!rest.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(rest, out var rune, out int consumed);
            if (status == OperationStatus.NeedMoreData && cut)
                break;
            if (status != OperationStatus.Done)
                return false;
            if (Rune.IsControl(rune) && rune.Value is not ('\t' or '\n' or '\r' or '\f' or '\v'))
                return false;
            rest = rest[consumed..];
        }
        text = Encoding.UTF8.GetString(bytes[..(bytes.Length - rest.Length)]);
        return true;
    }

    private static string FirstLine(string text)
    {
        string line = text.TrimStart().Split('\n', 2)[0].TrimEnd('\r', ' ', '\t');
        return line.Length > 40 ? line[..40] + "…" : line;
    }

    private static string StripComments(string text)
    {
        var code = new StringBuilder(text.Length);
        int at = 0;
        while (at < text.Length)
        {
            int open = text.IndexOf("/*", at, StringComparison.Ordinal);
            if (open < 0)
            {
                code.Append(text, at, text.Length - at);
                break;
            }
            code.Append(text, at, open - at).Append(' ');
            int close = text.IndexOf("*/", open + 2, StringComparison.Ordinal);
            at = close < 0 ? text.Length : close + 2;
        }
        return code.ToString();
    }

    // A script: its first word is one of ld's commands, followed by '('.
    private static bool IsLinkerScript(string code)
    {
        var tokens = Tokens(code);
        return tokens.Count >= 2 && tokens[1] == "(" && Array.IndexOf(ScriptCommands, tokens[0]) >= 0;
    }

    // The operands of every GROUP ( … ) and INPUT ( … ), with AS_NEEDED ( … ) inside them flattened.
    private static List<string> NamedFiles(string code)
    {
        var named = new List<string>();
        var tokens = Tokens(code);
        for (int i = 0; i + 1 < tokens.Count; i++)
        {
            if (Array.IndexOf(FileCommands, tokens[i]) < 0 || tokens[i + 1] != "(")
                continue;
            int depth = 0;
            for (i++; i < tokens.Count; i++)
            {
                string token = tokens[i];
                if (token == "(")
                    depth++;
                else if (token == ")" && --depth == 0)
                    break;
                else if (token != "AS_NEEDED" && token != ")")
                    named.Add(token);
            }
        }
        return named;
    }

    // Words, with '(' and ')' as tokens of their own; commas and whitespace separate (ld allows both in a file list).
    private static List<string> Tokens(string code)
    {
        var tokens = new List<string>();
        var word = new StringBuilder();
        void Flush()
        {
            if (word.Length > 0)
                tokens.Add(word.ToString());
            word.Clear();
        }
        foreach (char c in code)
        {
            if (c is '(' or ')')
            {
                Flush();
                tokens.Add(c.ToString());
            }
            else if (char.IsWhiteSpace(c) || c == ',')
                Flush();
            else
                word.Append(c);
        }
        Flush();
        return tokens;
    }
}
