using System.Globalization;

namespace Loader;

/// <summary>
/// Text the library makes without asking for a culture. In a process not in invariant mode, the first use of any
/// culture — the current one, <see cref="CultureInfo.InvariantCulture"/>, and any <see cref="NumberFormatInfo"/>, whose
/// static constructor asks for the invariant culture — loads ICU into the host (libicuuc, libicui18n and their data:
/// about 3 MB resident and tens of milliseconds), and a library that loads ELF files has no business making its host
/// pay that. .NET formats an unsigned number in decimal (no format, "D") or hexadecimal ("x") without a culture,
/// so the library's text is made of those, strings, and what is here: signed numbers and ASCII case changes, done by
/// hand. <c>CultureFreeTests</c> checks, in a child process not in invariant mode, that loading, looking up,
/// inspecting and failing leave ICU unmapped.
/// </summary>
internal static class CultureFreeText
{
    /// <summary>
    /// <c>string.Format</c> of a format whose items are unsigned numbers (in decimal or hexadecimal) and strings:
    /// no provider, since for those .NET asks none, and any provider would be a culture.
    /// </summary>
    public static string Format(string format, ulong a, ulong b, string? text) =>
        string.Format(provider: null, format, a, b, text);

    /// <summary><paramref name="value"/> in decimal, "-" before a negative one (as the invariant culture writes it).</summary>
    public static string Decimal(Int128 value) =>
        value < 0 ? "-" + ((UInt128)(-(value + 1)) + 1).ToString() : ((UInt128)value).ToString();

    /// <summary><paramref name="text"/> with ASCII letters lowercased; every other character unchanged.</summary>
    public static string AsciiLower(string text) => ChangeAsciiCase(text, 'A', 'Z', 'a' - 'A');

    /// <summary><paramref name="text"/> with ASCII letters uppercased; every other character unchanged.</summary>
    public static string AsciiUpper(string text) => ChangeAsciiCase(text, 'a', 'z', 'A' - 'a');

    private static string ChangeAsciiCase(string text, char first, char last, int shift) =>
        string.Create(text.Length, (text, first, last, shift), static (span, state) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                char c = state.text[i];
                span[i] = c >= state.first && c <= state.last ? (char)(c + state.shift) : c;
            }
        });
}
