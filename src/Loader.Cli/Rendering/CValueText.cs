using System.Globalization;
using Loader.Calling;

namespace Loader.Cli.Rendering;

/// <summary>
/// A returned C value as text, the way a C programmer would print it: integers in decimal, a <c>double</c> with
/// <c>printf("%.17g")</c> and a <c>float</c> with <c>printf("%.9g")</c> (enough digits to read back the same value),
/// pointers in hex, strings as their text and a NULL string as <c>NULL</c>.
/// </summary>
internal static class CValueText
{
    /// <summary>The value of a call that returned <paramref name="type"/>; empty for void.</summary>
    public static string Format(CType type, ForeignValue value) => value.Kind switch
    {
        ForeignValueKind.Void => "",
        ForeignValueKind.Integer => value.Integer.ToString(CultureInfo.InvariantCulture),
        ForeignValueKind.Real => FormatG(value.Real, type.Kind == CTypeKind.Float ? 9 : 17),
        ForeignValueKind.Pointer => $"0x{value.Pointer:x}",
        _ => value.Text ?? "NULL",
    };

    /// <summary>
    /// What glibc's <c>printf("%.{precision}g", value)</c> prints. .NET's "G17" chooses the same digits (both round
    /// the exact binary value correctly) and the same notation (exponential when the exponent is below -4 or at least
    /// the precision); only the spelling differs: C writes <c>e+20</c>, <c>e-05</c>, <c>inf</c>, <c>nan</c>.
    /// </summary>
    public static string FormatG(double value, int precision)
    {
        if (double.IsNaN(value))
            return double.IsNegative(value) ? "-nan" : "nan";
        if (double.IsInfinity(value))
            return value < 0 ? "-inf" : "inf";
        string text = value.ToString("G" + precision.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        int e = text.IndexOf('E');
        if (e < 0)
            return text;
        // .NET: "1E+20", "1.5E-05", "1E+300"; C: at least two exponent digits, lower-case e.
        string mantissa = text[..e];
        char sign = text[e + 1];
        string digits = text[(e + 2)..].TrimStart('0');
        if (digits.Length < 2)
            digits = digits.PadLeft(2, '0');
        return $"{mantissa}e{sign}{digits}";
    }
}
