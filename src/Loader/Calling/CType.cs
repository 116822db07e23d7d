namespace Loader.Calling;

/// <summary>The C types a <see cref="CPrototype"/> can name, as the x86_64 System V ABI lays them out (LP64).</summary>
public enum CTypeKind
{
    /// <summary><c>void</c>: only as a return type, or <c>(void)</c> for no parameters.</summary>
    Void,
    /// <summary><c>_Bool</c> / <c>bool</c>: one byte, 0 or 1.</summary>
    Bool,
    /// <summary>Plain <c>char</c>: signed on x86_64.</summary>
    Char,
    /// <summary><c>signed char</c>, <c>int8_t</c>.</summary>
    SignedChar,
    /// <summary><c>unsigned char</c>, <c>uint8_t</c>.</summary>
    UnsignedChar,
    /// <summary><c>short</c>, <c>int16_t</c>.</summary>
    Short,
    /// <summary><c>unsigned short</c>, <c>uint16_t</c>.</summary>
    UnsignedShort,
    /// <summary><c>int</c>, <c>int32_t</c>.</summary>
    Int,
    /// <summary><c>unsigned int</c>, <c>uint32_t</c>.</summary>
    UnsignedInt,
    /// <summary><c>long</c>, <c>int64_t</c>, <c>ssize_t</c>, <c>intptr_t</c>, <c>ptrdiff_t</c>.</summary>
    Long,
    /// <summary><c>unsigned long</c>, <c>uint64_t</c>, <c>size_t</c>, <c>uintptr_t</c>.</summary>
    UnsignedLong,
    /// <summary><c>long long</c>: 8 bytes, as <c>long</c>.</summary>
    LongLong,
    /// <summary><c>unsigned long long</c>.</summary>
    UnsignedLongLong,
    /// <summary><c>float</c>: IEEE single.</summary>
    Float,
    /// <summary><c>double</c>: IEEE double.</summary>
    Double,
    /// <summary>Any data pointer other than <c>const char *</c>: an address.</summary>
    Pointer,
    /// <summary><c>const char *</c>: a NUL-terminated string (UTF-8 here), or NULL.</summary>
    String,
}

/// <summary>
/// One C type of a prototype: its kind (which fixes size, signedness and how it is passed) and how it was spelled
/// (<c>size_t</c> stays <c>size_t</c> in messages, though it is an <c>unsigned long</c>).
/// </summary>
/// <param name="Kind">What the type is.</param>
/// <param name="Spelling">The canonical spelling: <c>unsigned int</c>, <c>const char *</c>, <c>size_t</c>, <c>struct z_stream_s *</c>.</param>
public sealed record CType(CTypeKind Kind, string Spelling)
{
    /// <summary><c>void</c>.</summary>
    public static CType Void { get; } = new(CTypeKind.Void, "void");
    /// <summary><c>int</c>.</summary>
    public static CType Int { get; } = new(CTypeKind.Int, "int");
    /// <summary><c>unsigned int</c>.</summary>
    public static CType UnsignedInt { get; } = new(CTypeKind.UnsignedInt, "unsigned int");
    /// <summary><c>long</c>.</summary>
    public static CType Long { get; } = new(CTypeKind.Long, "long");
    /// <summary><c>unsigned long</c>.</summary>
    public static CType UnsignedLong { get; } = new(CTypeKind.UnsignedLong, "unsigned long");
    /// <summary><c>double</c>.</summary>
    public static CType Double { get; } = new(CTypeKind.Double, "double");
    /// <summary><c>const char *</c>.</summary>
    public static CType String { get; } = new(CTypeKind.String, "const char *");
    /// <summary><c>void *</c>.</summary>
    public static CType VoidPointer { get; } = new(CTypeKind.Pointer, "void *");

    /// <summary>The size in bytes (0 for void).</summary>
    public int Size => Kind switch
    {
        CTypeKind.Void => 0,
        CTypeKind.Bool or CTypeKind.Char or CTypeKind.SignedChar or CTypeKind.UnsignedChar => 1,
        CTypeKind.Short or CTypeKind.UnsignedShort => 2,
        CTypeKind.Int or CTypeKind.UnsignedInt or CTypeKind.Float => 4,
        _ => 8,
    };

    /// <summary>True for <c>_Bool</c>, the char types and every signed and unsigned integer type.</summary>
    public bool IsInteger => Kind is >= CTypeKind.Bool and <= CTypeKind.UnsignedLongLong;

    /// <summary>True for a signed integer type (plain <c>char</c> is signed on x86_64).</summary>
    public bool IsSigned => Kind is CTypeKind.Char or CTypeKind.SignedChar or CTypeKind.Short or CTypeKind.Int or CTypeKind.Long or CTypeKind.LongLong;

    /// <summary>True for <c>float</c> and <c>double</c>.</summary>
    public bool IsFloatingPoint => Kind is CTypeKind.Float or CTypeKind.Double;

    /// <summary>True for a pointer, <c>const char *</c> included.</summary>
    public bool IsPointer => Kind is CTypeKind.Pointer or CTypeKind.String;

    /// <summary>
    /// True for a pointer to one of the char types, const or not (<c>unsigned char *</c>, <c>const unsigned char *</c>,
    /// <c>char *</c>, <c>uint8_t *</c>): a caller may pass text for it, as for <c>const char *</c> (bytes in, as
    /// <c>SHA256(const unsigned char *d, …)</c> takes them).
    /// </summary>
    public bool IsCharPointer => Kind == CTypeKind.String || Kind == CTypeKind.Pointer &&
        (Spelling.StartsWith("const ", StringComparison.Ordinal) ? Spelling[6..] : Spelling) is
            "char *" or "signed char *" or "unsigned char *" or "int8_t *" or "uint8_t *";

    /// <summary>The smallest value of an integer type (0 for unsigned ones and _Bool).</summary>
    public Int128 MinValue => IsSigned ? -(Int128.One << (Size * 8 - 1)) : Int128.Zero;

    /// <summary>The largest value of an integer type (1 for _Bool); also the range a pointer's address may take.</summary>
    public Int128 MaxValue => Kind == CTypeKind.Bool ? Int128.One
        : IsSigned ? (Int128.One << (Size * 8 - 1)) - 1
        : (Int128.One << (Size * 8)) - 1;

    /// <summary>
    /// The type after C's default argument promotions, which is how a variadic argument is passed: <c>_Bool</c>,
    /// <c>char</c> and <c>short</c> (signed or not) become <c>int</c>, <c>float</c> becomes <c>double</c> (C11 6.5.2.2).
    /// </summary>
    public CType Promoted => Kind switch
    {
        CTypeKind.Bool or CTypeKind.Char or CTypeKind.SignedChar or CTypeKind.UnsignedChar or CTypeKind.Short or CTypeKind.UnsignedShort => Int,
        CTypeKind.Float => Double,
        _ => this,
    };

    /// <summary>The spelling.</summary>
    public override string ToString() => Spelling;
}
