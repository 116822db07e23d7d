using System.Globalization;

namespace Loader.Calling;

/// <summary>What a <see cref="ForeignValue"/> holds.</summary>
public enum ForeignValueKind
{
    /// <summary>No value: what a <c>void</c> function returns.</summary>
    Void,
    /// <summary>An integer (any C integer type, _Bool included).</summary>
    Integer,
    /// <summary>A <c>double</c> (or a <c>float</c>, widened exactly).</summary>
    Real,
    /// <summary>An address (any pointer type).</summary>
    Pointer,
    /// <summary>A C string: text passed as a NUL-terminated UTF-8 copy, or text read back; null text is NULL.</summary>
    String,
    /// <summary>
    /// A buffer passed by address: a native copy of <see cref="ForeignValue.Buffer"/> for the call, copied back into
    /// the array when the call returns, so an output argument (<c>unsigned char *md</c>) can be read.
    /// </summary>
    Buffer,
}

/// <summary>
/// A value passed to or returned by a <see cref="ForeignCall"/>, independent of the exact C type: integers are kept
/// as <see cref="Int128"/> so every C integer (signed or unsigned 64-bit) is exact, and are range-checked against
/// the parameter's type when the call is made.
/// </summary>
public readonly record struct ForeignValue
{
    private ForeignValue(ForeignValueKind kind, Int128 integer, double real, nint pointer, string? text, byte[]? buffer = null)
    {
        Kind = kind;
        Integer = integer;
        Real = real;
        Pointer = pointer;
        Text = text;
        Buffer = buffer;
    }

    /// <summary>What it holds.</summary>
    public ForeignValueKind Kind { get; }

    /// <summary>The integer, for <see cref="ForeignValueKind.Integer"/>.</summary>
    public Int128 Integer { get; }

    /// <summary>The floating-point value, for <see cref="ForeignValueKind.Real"/>.</summary>
    public double Real { get; }

    /// <summary>The address, for <see cref="ForeignValueKind.Pointer"/>, and for a returned string (0 for NULL).</summary>
    public nint Pointer { get; }

    /// <summary>The text, for <see cref="ForeignValueKind.String"/>; null for a NULL string.</summary>
    public string? Text { get; }

    /// <summary>The array, for <see cref="ForeignValueKind.Buffer"/>: what the function wrote there once the call returns.</summary>
    public byte[]? Buffer { get; }

    /// <summary>No value.</summary>
    public static ForeignValue Void => default;

    /// <summary>A null pointer.</summary>
    public static ForeignValue Null => FromPointer(0);

    /// <summary>An integer.</summary>
    public static ForeignValue FromInteger(Int128 value) => new(ForeignValueKind.Integer, value, 0, 0, null);

    /// <summary>A floating-point value.</summary>
    public static ForeignValue FromReal(double value) => new(ForeignValueKind.Real, 0, value, 0, null);

    /// <summary>An address.</summary>
    public static ForeignValue FromPointer(nint address) => new(ForeignValueKind.Pointer, 0, 0, address, null);

    /// <summary>A string (null for NULL); passed as a NUL-terminated UTF-8 copy that lives until the call returns.</summary>
    public static ForeignValue FromString(string? text) => new(ForeignValueKind.String, 0, 0, 0, text);

    /// <summary>
    /// A buffer for a pointer parameter: the function gets the address of a native copy of <paramref name="buffer"/>
    /// (valid until it returns), and what it wrote there is copied back into <paramref name="buffer"/> after the call.
    /// </summary>
    public static ForeignValue FromBuffer(byte[] buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return new(ForeignValueKind.Buffer, 0, 0, 0, null, buffer);
    }

    /// <summary>A string read back from C at <paramref name="address"/> (<paramref name="text"/> null when it is NULL).</summary>
    internal static ForeignValue FromCString(nint address, string? text) => new(ForeignValueKind.String, 0, 0, address, text);

    /// <summary>A short description: <c>42</c>, <c>0.5</c>, <c>0x7f00</c>, <c>"text"</c>, <c>NULL</c>, <c>void</c>.</summary>
    public override string ToString() => Kind switch
    {
        ForeignValueKind.Integer => CultureFreeText.Decimal(Integer),
        // A double has no culture-free format in .NET: formatting one is the library's one use of a culture (CultureFreeText).
        ForeignValueKind.Real => Real.ToString("R", NumberFormatInfo.InvariantInfo),
        ForeignValueKind.Pointer => $"0x{Pointer:x}",
        ForeignValueKind.String => Text is null ? "NULL" : $"\"{Text}\"",
        ForeignValueKind.Buffer => $"buf:{Buffer!.Length}",
        _ => "void",
    };
}
