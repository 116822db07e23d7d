using Loader.Native;

namespace Loader.Calling;

/// <summary>
/// Calls native code at an address by its C prototype, through libffi (<c>libffi.so.8</c>): any arity, integers of
/// every size, <c>float</c>, <c>double</c>, pointers, <c>const char *</c> strings in and out, and variadic functions
/// (<c>ffi_prep_cif_var</c>). What <c>loader call</c> uses; also usable from C# when the signature is only known at
/// run time (with a known signature, a <c>delegate* unmanaged</c> of <see cref="ElfLibrary.GetExport(string)"/> is
/// simpler and faster).
/// </summary>
public static class ForeignCall
{
    /// <summary>
    /// Calls <paramref name="function"/> as <paramref name="prototype"/> with <paramref name="arguments"/>: one per
    /// fixed parameter, then, for a variadic prototype, the variadic ones, each passed as
    /// <see cref="VariadicType(ForeignValue)"/> says.
    /// </summary>
    /// <exception cref="ArgumentException">The arguments do not match the prototype (count, kind, or range); the
    /// message names the argument (1-based).</exception>
    /// <exception cref="DllNotFoundException">libffi.so.8 cannot be loaded.</exception>
    public static ForeignValue Invoke(nint function, CPrototype prototype, IReadOnlyList<ForeignValue> arguments)
    {
        ArgumentNullException.ThrowIfNull(prototype);
        ArgumentNullException.ThrowIfNull(arguments);
        var variadic = new List<CType>();
        for (int i = prototype.Parameters.Count; i < arguments.Count; i++)
            variadic.Add(VariadicType(arguments[i]));
        return Invoke(function, prototype, arguments, variadic);
    }

    /// <summary>
    /// Like <see cref="Invoke(nint, CPrototype, IReadOnlyList{ForeignValue})"/>, with the variadic arguments' types
    /// given (they are passed after C's default argument promotions: <see cref="CType.Promoted"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The arguments do not match the prototype; the message names the argument.</exception>
    /// <exception cref="DllNotFoundException">libffi.so.8 cannot be loaded.</exception>
    public static ForeignValue Invoke(nint function, CPrototype prototype, IReadOnlyList<ForeignValue> arguments, IReadOnlyList<CType> variadicTypes)
    {
        ArgumentNullException.ThrowIfNull(prototype);
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(variadicTypes);
        if (function == 0)
            throw new ArgumentException($"{prototype.Name}: the function's address is 0", nameof(function));
        int fixedCount = prototype.Parameters.Count;
        if (arguments.Count < fixedCount || (!prototype.IsVariadic && arguments.Count > fixedCount))
            throw new ArgumentException(
                $"{prototype}: takes {fixedCount}{(prototype.IsVariadic ? " or more" : "")} argument{(fixedCount == 1 ? "" : "s")}, {arguments.Count} given", nameof(arguments));
        if (variadicTypes.Count != arguments.Count - fixedCount)
            throw new ArgumentException($"{prototype}: {arguments.Count - fixedCount} variadic arguments but {variadicTypes.Count} types", nameof(variadicTypes));

        var ffiArguments = new FfiArgument[arguments.Count];
        for (int i = 0; i < arguments.Count; i++)
        {
            var type = i < fixedCount ? prototype.Parameters[i].Type : variadicTypes[i - fixedCount].Promoted;
            if (type.Kind == CTypeKind.Void)
                throw new ArgumentException($"argument {i + 1}: cannot pass 'void'", nameof(variadicTypes));
            ffiArguments[i] = ToFfi(i + 1, type, arguments[i]);
        }
        ulong raw = Ffi.Call(function, FfiTypeOf(prototype.ReturnType), ffiArguments, fixedCount, prototype.IsVariadic);
        return FromReturn(prototype.ReturnType, raw);
    }

    /// <summary>
    /// The type a variadic argument is passed as, chosen the way C types an argument written as a literal: an integer
    /// is an <c>int</c> when it fits, else a <c>long</c>, else an <c>unsigned long</c>; a floating-point value a
    /// <c>double</c>; a string a <c>const char *</c>; an address a <c>void *</c>.
    /// </summary>
    /// <exception cref="ArgumentException">An integer beyond <c>unsigned long</c>, or no value.</exception>
    public static CType VariadicType(ForeignValue value) => value.Kind switch
    {
        ForeignValueKind.Integer when value.Integer >= int.MinValue && value.Integer <= int.MaxValue => CType.Int,
        ForeignValueKind.Integer when value.Integer >= long.MinValue && value.Integer <= long.MaxValue => CType.Long,
        ForeignValueKind.Integer when value.Integer >= 0 && value.Integer <= ulong.MaxValue => CType.UnsignedLong,
        ForeignValueKind.Integer => throw new ArgumentException($"{value.Integer} does not fit in any C integer type", nameof(value)),
        ForeignValueKind.Real => CType.Double,
        ForeignValueKind.String => CType.String,
        ForeignValueKind.Pointer or ForeignValueKind.Buffer => CType.VoidPointer,
        _ => throw new ArgumentException("a variadic argument needs a value", nameof(value)),
    };

    /// <summary>
    /// <c>fflush(NULL)</c> through the host's libc: call it after a function that may have written with C's stdio
    /// (glibc buffers stdout fully on a pipe), so its output comes out before whatever .NET writes next.
    /// </summary>
    public static void FlushStandardStreams() => Stdio.FlushAll();

    private static FfiArgument ToFfi(int position, CType type, ForeignValue value)
    {
        if (type.IsInteger)
        {
            if (value.Kind != ForeignValueKind.Integer)
                throw Mismatch(position, type, value);
            if (value.Integer < type.MinValue || value.Integer > type.MaxValue)
                throw new ArgumentException($"argument {position}: {value.Integer} is out of range for {type.Spelling} ({type.MinValue} to {type.MaxValue})");
            return new FfiArgument(FfiTypeOf(type), (ulong)(value.Integer & ulong.MaxValue));
        }
        if (type.IsFloatingPoint)
        {
            double real = value.Kind switch
            {
                ForeignValueKind.Real => value.Real,
                ForeignValueKind.Integer => (double)value.Integer,
                _ => throw Mismatch(position, type, value),
            };
            return type.Kind == CTypeKind.Float
                ? new FfiArgument(FfiType.Float, BitConverter.SingleToUInt32Bits((float)real))
                : new FfiArgument(FfiType.Double, BitConverter.DoubleToUInt64Bits(real));
        }
        return value.Kind switch
        {
            ForeignValueKind.String when type.IsCharPointer => new FfiArgument(FfiType.Pointer, 0, value.Text, IsString: true),
            ForeignValueKind.Buffer when type.IsPointer => new FfiArgument(FfiType.Pointer, 0, Buffer: value.Buffer),
            ForeignValueKind.Pointer => new FfiArgument(FfiType.Pointer, (ulong)value.Pointer),
            ForeignValueKind.Integer when value.Integer >= long.MinValue && value.Integer <= ulong.MaxValue =>
                new FfiArgument(FfiType.Pointer, (ulong)(value.Integer & ulong.MaxValue)),
            _ => throw Mismatch(position, type, value),
        };
    }

    private static ArgumentException Mismatch(int position, CType type, ForeignValue value) =>
        new($"argument {position}: a {CultureFreeText.AsciiLower(value.Kind.ToString())} ({value}) cannot be passed as {type.Spelling}");

    private static FfiType FfiTypeOf(CType type) => type.Kind switch
    {
        CTypeKind.Void => FfiType.Void,
        CTypeKind.Bool or CTypeKind.UnsignedChar => FfiType.UInt8,
        CTypeKind.Char or CTypeKind.SignedChar => FfiType.SInt8,
        CTypeKind.Short => FfiType.SInt16,
        CTypeKind.UnsignedShort => FfiType.UInt16,
        CTypeKind.Int => FfiType.SInt32,
        CTypeKind.UnsignedInt => FfiType.UInt32,
        CTypeKind.Long or CTypeKind.LongLong => FfiType.SInt64,
        CTypeKind.UnsignedLong or CTypeKind.UnsignedLongLong => FfiType.UInt64,
        CTypeKind.Float => FfiType.Float,
        CTypeKind.Double => FfiType.Double,
        _ => FfiType.Pointer,
    };

    // libffi widens a narrow integer return to 64 bits (ffi_arg); the ABI leaves the upper bits of %rax undefined
    // for such a return, so the value is truncated to the type's size and extended here, by the type's signedness.
    private static ForeignValue FromReturn(CType type, ulong raw)
    {
        if (type.Kind == CTypeKind.Void)
            return ForeignValue.Void;
        if (type.IsInteger)
        {
            int bits = type.Size * 8;
            ulong truncated = bits == 64 ? raw : raw & ((1UL << bits) - 1);
            if (type.Kind == CTypeKind.Bool)
                return ForeignValue.FromInteger((truncated & 0xff) != 0 ? 1 : 0);
            Int128 value = type.IsSigned && bits < 64 && (truncated >> (bits - 1)) != 0
                ? (Int128)(long)(truncated | ~((1UL << bits) - 1))
                : type.IsSigned ? (Int128)(long)truncated : (Int128)truncated;
            return ForeignValue.FromInteger(value);
        }
        if (type.Kind == CTypeKind.Float)
            return ForeignValue.FromReal(BitConverter.UInt32BitsToSingle((uint)raw));
        if (type.Kind == CTypeKind.Double)
            return ForeignValue.FromReal(BitConverter.UInt64BitsToDouble(raw));
        if (type.Kind == CTypeKind.String)
            return ForeignValue.FromCString((nint)raw, Ffi.ReadCString((nint)raw));
        return ForeignValue.FromPointer((nint)raw);
    }
}
