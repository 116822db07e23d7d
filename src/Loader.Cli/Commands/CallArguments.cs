using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Loader.Calling;

namespace Loader.Cli.Commands;

/// <summary>
/// The command-line text of <c>loader call</c>'s arguments turned into values for <see cref="ForeignCall"/>: each
/// fixed argument read as its parameter's type says, each variadic one typed from its text the way C types a literal
/// (<c>42</c> an int, <c>5000000000</c> a long, <c>2.5</c> or <c>1e3</c> a double, <c>NULL</c> a null pointer,
/// anything else a <c>const char *</c>). Text goes to any char pointer (<c>const unsigned char *</c> too); <c>buf:N</c>
/// passes N zeroed bytes to any pointer, for the function to write into. Every refusal names the argument:
/// <c>argument 2 ('abc'): expected an int</c>.
/// </summary>
internal static class CallArguments
{
    /// <summary>The values and the variadic arguments' types; false with a usage message when something does not fit.</summary>
    public static bool TryConvert(CPrototype prototype, IReadOnlyList<string> texts, out List<ForeignValue> values,
        out List<CType> variadicTypes, [NotNullWhen(false)] out string? error)
    {
        values = [];
        variadicTypes = [];
        int fixedCount = prototype.Parameters.Count;
        if (texts.Count < fixedCount)
        {
            error = $"call: the prototype takes {Count(fixedCount)}{(prototype.IsVariadic ? " or more" : "")} " +
                $"({string.Join(", ", prototype.Parameters)}); {texts.Count} given, missing the {Ordinal(texts.Count + 1)}: {prototype.Parameters[texts.Count]}";
            return false;
        }
        if (texts.Count > fixedCount && !prototype.IsVariadic)
        {
            error = $"argument {fixedCount + 1} ('{texts[fixedCount]}'): {prototype} takes {Count(fixedCount)}, {texts.Count} given";
            return false;
        }
        for (int i = 0; i < texts.Count; i++)
        {
            string text = texts[i];
            if (i < fixedCount)
            {
                var type = prototype.Parameters[i].Type;
                if (!TryConvert(text, type, out var value, out string? problem))
                {
                    error = $"argument {i + 1} ('{text}'): {problem}";
                    return false;
                }
                values.Add(value);
            }
            else
            {
                if (!TryInferVariadic(text, out var value, out var type, out string? problem))
                {
                    error = $"argument {i + 1} ('{text}'): {problem}";
                    return false;
                }
                values.Add(value);
                variadicTypes.Add(type);
            }
        }
        error = null;
        return true;
    }

    /// <summary>Reads <paramref name="text"/> as a value of <paramref name="type"/>.</summary>
    public static bool TryConvert(string text, CType type, out ForeignValue value, [NotNullWhen(false)] out string? error)
    {
        value = default;
        error = null;
        if (type.IsPointer && TryParseBuffer(text, out var buffer, out error))
        {
            value = ForeignValue.FromBuffer(buffer);
            return true;
        }
        if (error is not null)
            return false;
        if (type.IsCharPointer)
        {
            value = IsNull(text) ? ForeignValue.Null : ForeignValue.FromString(text);
            return true;
        }
        if (type.IsPointer)
        {
            if (IsNull(text))
            {
                value = ForeignValue.Null;
                return true;
            }
            if (!TryParseInteger(text, out var address, out _))
                return Fail(out error, $"expected {Article(type.Spelling)} (NULL or an address, decimal or 0x hex)");
            if (address < 0 || address > ulong.MaxValue)
                return Fail(out error, $"out of range for {type.Spelling} (0 to 0x{ulong.MaxValue:x})");
            value = ForeignValue.FromPointer((nint)(ulong)address);
            return true;
        }
        if (type.IsFloatingPoint)
        {
            if (!TryParseReal(text, out double real))
                return Fail(out error, $"expected {Article(type.Spelling)}");
            if (double.IsInfinity(real) && !IsInfinityText(text) || (type.Kind == CTypeKind.Float && double.IsFinite(real) && Math.Abs(real) > float.MaxValue))
                return Fail(out error, $"out of range for {type.Spelling}");
            value = ForeignValue.FromReal(real);
            return true;
        }
        if (type.Kind == CTypeKind.Bool && text is "true" or "false")
        {
            value = ForeignValue.FromInteger(text == "true" ? 1 : 0);
            return true;
        }
        if (!TryParseInteger(text, out var integer, out _))
            return Fail(out error, $"expected {Article(type.Spelling)}{(type.Kind == CTypeKind.Bool ? " (0, 1, true or false)" : "")}");
        if (integer < type.MinValue || integer > type.MaxValue)
            return Fail(out error, $"out of range for {type.Spelling} ({type.MinValue} to {type.MaxValue})");
        value = ForeignValue.FromInteger(integer);
        return true;
    }

    /// <summary>A variadic argument's value and type from its text alone, as C types a literal.</summary>
    public static bool TryInferVariadic(string text, out ForeignValue value, out CType type, [NotNullWhen(false)] out string? error)
    {
        error = null;
        if (IsNull(text))
        {
            (value, type) = (ForeignValue.Null, CType.VoidPointer);
            return true;
        }
        if (TryParseBuffer(text, out var buffer, out error))
        {
            (value, type) = (ForeignValue.FromBuffer(buffer), CType.VoidPointer);
            return true;
        }
        if (error is not null)
        {
            (value, type) = (default, CType.VoidPointer);
            return false;
        }
        if (TryParseInteger(text, out var integer, out bool hex))
        {
            // C11 6.4.4.1: a decimal constant is the first of int, long that holds it; an octal or hex one may also be
            // unsigned int or unsigned long.
            type = integer >= int.MinValue && integer <= int.MaxValue ? CType.Int
                : hex && integer >= 0 && integer <= uint.MaxValue ? CType.UnsignedInt
                : integer >= long.MinValue && integer <= long.MaxValue ? CType.Long
                : integer >= 0 && integer <= ulong.MaxValue ? CType.UnsignedLong
                : null!;
            value = ForeignValue.FromInteger(integer);
            if (type is null)
                return Fail(out error, "too large for any C integer type (unsigned long at most)");
            return true;
        }
        if (LooksReal(text) && TryParseReal(text, out double real) && double.IsFinite(real))
        {
            (value, type) = (ForeignValue.FromReal(real), CType.Double);
            return true;
        }
        (value, type) = (ForeignValue.FromString(text), CType.String);
        return true;
    }

    /// <summary>An integer literal: optional sign, then decimal digits or <c>0x</c> hex digits.</summary>
    public static bool TryParseInteger(string text, out Int128 value, out bool hex)
    {
        value = 0;
        hex = false;
        ReadOnlySpan<char> s = text.AsSpan().Trim();
        bool negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        if (s.Length > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        {
            hex = true;
            s = s[2..];
            if (s.Length == 0 || !s.ContainsOnlyHex() || !UInt128.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var magnitude) || magnitude > (UInt128)Int128.MaxValue)
                return false;
            value = negative ? -(Int128)magnitude : (Int128)magnitude;
            return true;
        }
        if (s.Length == 0 || !s.ContainsOnlyDigits() || !UInt128.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var decimalMagnitude) || decimalMagnitude > (UInt128)Int128.MaxValue)
            return false;
        value = negative ? -(Int128)decimalMagnitude : (Int128)decimalMagnitude;
        return true;
    }

    /// <summary>The largest <c>buf:N</c>: enough for any digest or name, small enough to print.</summary>
    public const int MaxBufferLength = 1 << 20;

    /// <summary>
    /// <c>buf:N</c>: N zeroed bytes passed by address, printed after the call. False with a null error when the text is
    /// not of that form; false with an error when it is but N is not a length from 1 to <see cref="MaxBufferLength"/>.
    /// </summary>
    public static bool TryParseBuffer(string text, [NotNullWhen(true)] out byte[]? buffer, out string? error)
    {
        buffer = null;
        error = null;
        if (!text.StartsWith(BufferPrefix, StringComparison.Ordinal))
            return false;
        if (!int.TryParse(text.AsSpan(BufferPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int length) || length < 1 || length > MaxBufferLength)
            return Fail(out error, $"a buffer is buf:N with N from 1 to {MaxBufferLength} bytes");
        buffer = new byte[length];
        return true;
    }

    /// <summary>What starts a buffer argument: <c>buf:64</c>.</summary>
    public const string BufferPrefix = "buf:";

    private static bool TryParseReal(string text, out double value)
    {
        string s = text.Trim();
        if (IsInfinityText(s))
        {
            value = s.StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity;
            return true;
        }
        if (s.TrimStart('-', '+').Equals("nan", StringComparison.OrdinalIgnoreCase))
        {
            value = double.NaN;
            return true;
        }
        if (s.Length == 0 || !(char.IsAsciiDigit(s[^1]) || s[^1] == '.') || s.Contains(',') || s.Contains('_'))
        {
            value = 0;
            return false;
        }
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    // A literal C would read as floating: digits with a '.' or a decimal exponent.
    private static bool LooksReal(string text) =>
        text.Length > 0 && text.Any(char.IsAsciiDigit) && (text.Contains('.') || text.Contains('e') || text.Contains('E'));

    private static bool IsInfinityText(string text) =>
        text.TrimStart('-', '+') is { } t && (t.Equals("inf", StringComparison.OrdinalIgnoreCase) || t.Equals("infinity", StringComparison.OrdinalIgnoreCase));

    private static bool IsNull(string text) => text is "NULL" or "null" or "nullptr";

    private static string Ordinal(int n) => (n % 100) switch
    {
        11 or 12 or 13 => $"{n}th",
        _ => (n % 10) switch { 1 => $"{n}st", 2 => $"{n}nd", 3 => $"{n}rd", _ => $"{n}th" },
    };

    private static string Count(int n) => n == 1 ? "1 argument" : $"{n} arguments";

    private static string Article(string spelling) => spelling.Length > 0 && "aeiou".Contains(spelling[0]) ? $"an {spelling}" : $"a {spelling}";

    private static bool ContainsOnlyHex(this ReadOnlySpan<char> s)
    {
        foreach (char c in s)
            if (!char.IsAsciiHexDigit(c))
                return false;
        return true;
    }

    private static bool ContainsOnlyDigits(this ReadOnlySpan<char> s)
    {
        foreach (char c in s)
            if (!char.IsAsciiDigit(c))
                return false;
        return true;
    }

    private static bool Fail([NotNullWhen(false)] out string? error, string message)
    {
        error = message;
        return false;
    }
}
