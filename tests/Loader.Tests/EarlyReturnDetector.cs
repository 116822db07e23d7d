using System.Text.RegularExpressions;

namespace Loader.Tests;

/// <summary>
/// Finds tests that pass without checking anything because they stop early: a <c>return;</c> inside a
/// <c>[Fact]</c>/<c>[Theory]</c> method that is a guard clause (<c>if (...) return;</c>, whatever the condition), or that
/// ends a branch taken on a missing input (<c>File.Exists</c>, <c>is null</c>, <c>FirstOrDefault</c>, a failed
/// <c>Match</c>...) with no assertion before it. A test whose input can be missing must assert that it is there.
/// Works on the source text, with strings and comments blanked out first so that neither can fool it.
/// </summary>
public static partial class EarlyReturnDetector
{
    /// <summary>One early return: where, in which test, and the condition that leads to it.</summary>
    public sealed record Finding(string File, int Line, string Method, string Condition)
    {
        public override string ToString() =>
            $"{File}:{Line}: {Method} returns early when ({Condition}) and checks nothing after it: assert what it needs instead (saying how it is built or installed)";
    }

    /// <summary>How many test methods <see cref="Scan"/> looked at, and what it found in them.</summary>
    public sealed record Result(int TestMethods, IReadOnlyList<Finding> Findings);

    public static Result Scan(string source, string file)
    {
        string code = BlankStringsAndComments(source);
        var findings = new List<Finding>();
        int methods = 0;
        foreach (Match attribute in TestAttribute().Matches(code))
        {
            int body = code.IndexOf('{', attribute.Index);
            int arrow = code.IndexOf("=>", attribute.Index, StringComparison.Ordinal);
            if (body < 0 || (arrow >= 0 && arrow < body))
                continue; // an expression-bodied test holds no return statement
            methods++;
            int end = MatchingClose(code, body);
            string method = MethodName().Match(code, attribute.Index, body - attribute.Index) is { Success: true } name
                ? name.Groups[1].Value
                : "?";
            foreach (Match statement in ReturnStatement().Matches(code[body..end]))
            {
                int at = body + statement.Index;
                if (GoverningIf(code, at) is not { } branch)
                    continue;
                bool guard = string.IsNullOrWhiteSpace(branch.BranchText);
                bool onMissingInput = ExistenceCheck().IsMatch(branch.Condition) && !branch.BranchText.Contains("Assert", StringComparison.Ordinal);
                if (guard || onMissingInput)
                    findings.Add(new Finding(file, LineOf(source, at), method, Regex.Replace(branch.Condition.Trim(), @"\s+", " ")));
            }
        }
        return new Result(methods, findings);
    }

    /// <summary>The <c>if</c> whose branch ends with the <c>return;</c> at <paramref name="returnAt"/>: its condition, and
    /// what the branch does before returning (empty for <c>if (c) return;</c> and <c>if (c) { return; }</c>).</summary>
    private static (string Condition, string BranchText)? GoverningIf(string code, int returnAt)
    {
        int before = SkipSpaceBackwards(code, returnAt - 1);
        int branchStart = returnAt;
        if (before >= 0 && code[before] == '{')
        {
            branchStart = before + 1;
            before = SkipSpaceBackwards(code, before - 1);
        }
        else if (before < 0 || code[before] != ')')
        {
            // The return is not the whole branch: find the block it is in and the if that opens that block.
            int open = EnclosingOpen(code, returnAt);
            if (open < 0)
                return null;
            branchStart = open + 1;
            before = SkipSpaceBackwards(code, open - 1);
        }
        if (before < 0 || code[before] != ')')
            return null;
        int conditionOpen = MatchingOpen(code, before);
        if (conditionOpen < 0)
            return null;
        int keywordEnd = SkipSpaceBackwards(code, conditionOpen - 1);
        if (keywordEnd < 1 || code[(keywordEnd - 1)..(keywordEnd + 1)] != "if" || (keywordEnd >= 2 && IsIdentifierChar(code[keywordEnd - 2])))
            return null;
        return (code[(conditionOpen + 1)..before], code[branchStart..returnAt]);
    }

    private static int SkipSpaceBackwards(string code, int i)
    {
        while (i >= 0 && char.IsWhiteSpace(code[i]))
            i--;
        return i;
    }

    private static bool IsIdentifierChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    private static int MatchingClose(string code, int open)
    {
        int depth = 0;
        for (int i = open; i < code.Length; i++)
        {
            if (code[i] == '{')
                depth++;
            else if (code[i] == '}' && --depth == 0)
                return i;
        }
        return code.Length;
    }

    private static int MatchingOpen(string code, int close)
    {
        int depth = 0;
        for (int i = close; i >= 0; i--)
        {
            if (code[i] == ')')
                depth++;
            else if (code[i] == '(' && --depth == 0)
                return i;
        }
        return -1;
    }

    private static int EnclosingOpen(string code, int from)
    {
        int depth = 0;
        for (int i = from; i >= 0; i--)
        {
            if (code[i] == '}')
                depth++;
            else if (code[i] == '{' && depth-- == 0)
                return i;
        }
        return -1;
    }

    private static int LineOf(string source, int index) => 1 + source.AsSpan(0, index).Count('\n');

    /// <summary>
    /// <paramref name="source"/> with the contents of comments, character literals and string literals (regular,
    /// verbatim, interpolated, raw) replaced by spaces, newlines kept: what is left is code, at the same offsets.
    /// </summary>
    public static string BlankStringsAndComments(string source)
    {
        var text = source.ToCharArray();
        int i = 0;
        LexCode(source, text, ref i, insideHole: false);
        return new string(text);
    }

    // Code up to the end, or, inside an interpolation hole, up to the '}' that closes it.
    private static void LexCode(string s, char[] text, ref int i, bool insideHole)
    {
        int depth = 0;
        while (i < s.Length)
        {
            char c = s[i];
            char next = i + 1 < s.Length ? s[i + 1] : '\0';
            if (c == '/' && next == '/')
            {
                int end = s.IndexOf('\n', i);
                Blank(text, i, end < 0 ? s.Length : end);
                i = end < 0 ? s.Length : end;
            }
            else if (c == '/' && next == '*')
            {
                int end = s.IndexOf("*/", i + 2, StringComparison.Ordinal);
                end = end < 0 ? s.Length : end + 2;
                Blank(text, i, end);
                i = end;
            }
            else if (c == '\'')
            {
                int end = i + 1;
                while (end < s.Length && s[end] != '\'')
                    end += s[end] == '\\' ? 2 : 1;
                Blank(text, i, Math.Min(end + 1, s.Length));
                i = end + 1;
            }
            else if (c == '"' || ((c == '$' || c == '@') && StringStartsAt(s, i)))
            {
                LexString(s, text, ref i);
            }
            else
            {
                if (c == '{')
                    depth++;
                else if (c == '}' && depth-- == 0 && insideHole)
                    return;
                i++;
            }
        }
    }

    private static bool StringStartsAt(string s, int i)
    {
        while (i < s.Length && (s[i] == '$' || s[i] == '@'))
            i++;
        return i < s.Length && s[i] == '"';
    }

    private static void LexString(string s, char[] text, ref int i)
    {
        int start = i;
        bool interpolated = false, verbatim = false;
        for (; s[i] != '"'; i++)
        {
            interpolated |= s[i] == '$';
            verbatim |= s[i] == '@';
        }
        int quotes = 0;
        while (i + quotes < s.Length && s[i + quotes] == '"')
            quotes++;
        if (quotes >= 3)
        {
            // A raw string ends at the first run of as many quotes; its holes hold no raw string of the same kind.
            int end = s.IndexOf(new string('"', quotes), i + quotes, StringComparison.Ordinal);
            end = end < 0 ? s.Length : end + quotes;
            Blank(text, start, end);
            i = end;
            return;
        }
        i++; // the opening quote
        while (i < s.Length)
        {
            char c = s[i];
            if (verbatim && c == '"' && i + 1 < s.Length && s[i + 1] == '"')
                i += 2;
            else if (c == '"')
                break;
            else if (!verbatim && c == '\\')
                i += 2;
            else if (interpolated && c == '{' && i + 1 < s.Length && s[i + 1] == '{')
                i += 2;
            else if (interpolated && c == '{')
            {
                // A hole is code, with strings of its own: lex it to find the '}' that closes it.
                i++;
                LexCode(s, text, ref i, insideHole: true);
                i++;
            }
            else
                i++;
        }
        i = Math.Min(i + 1, s.Length);
        Blank(text, start, i);
    }

    private static void Blank(char[] text, int from, int to)
    {
        for (int k = from; k < to && k < text.Length; k++)
        {
            if (text[k] != '\n')
                text[k] = ' ';
        }
    }

    [GeneratedRegex(@"\[\s*(?:Xunit\.)?(?:Fact|Theory)\b")]
    private static partial Regex TestAttribute();

    [GeneratedRegex(@"\b(?:void|Task|ValueTask)\s+(\w+)\s*[(<]")]
    private static partial Regex MethodName();

    [GeneratedRegex(@"\breturn\s*;")]
    private static partial Regex ReturnStatement();

    /// <summary>Conditions that ask whether an input is there.</summary>
    [GeneratedRegex(@"\b(?:File|Directory|Path)\.Exists\b|\bis\s+null\b|==\s*null\b|\bis\s+not\s*\{|\.Success\b|OrDefault\b|\bLookup\(|IsNullOrEmpty|\.Count\s*==\s*0|\.Length\s*==\s*0|!\s*[\w.]+\.Any\(")]
    private static partial Regex ExistenceCheck();
}
