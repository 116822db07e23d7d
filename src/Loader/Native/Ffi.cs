using System.Runtime.InteropServices;
using System.Text;

namespace Loader.Native;

/// <summary>The libffi types a call uses: one per size and signedness, as <c>ffi_type_*</c> globals name them.</summary>
internal enum FfiType
{
    Void,
    UInt8,
    SInt8,
    UInt16,
    SInt16,
    UInt32,
    SInt32,
    UInt64,
    SInt64,
    Float,
    Double,
    Pointer,
}

/// <summary>One argument as libffi gets it: its type, and either its bits (integers, pointers, the IEEE bits of a
/// float or double), or a string to pass as a NUL-terminated UTF-8 copy, or a buffer to pass as a native copy.</summary>
internal readonly record struct FfiArgument(FfiType Type, ulong Bits, string? Text = null, bool IsString = false, byte[]? Buffer = null);

/// <summary>
/// libffi (<c>libffi.so.8</c>): calls a function at an address with any C signature, as the x86_64 System V ABI
/// passes it — <c>ffi_prep_cif</c>, or <c>ffi_prep_cif_var</c> for a variadic function (it sets <c>%al</c> to the
/// number of vector registers used), then <c>ffi_call</c>. The <c>ffi_type_*</c> descriptors are data exports of the
/// library, read with <see cref="NativeLibrary.GetExport"/>.
/// </summary>
internal static unsafe partial class Ffi
{
    private const string LibFfi = "libffi.so.8";

    // ffi_abi on x86_64 Unix (ffitarget.h): FFI_FIRST_ABI = 1, FFI_UNIX64 = 2 = FFI_DEFAULT_ABI.
    private const int FFI_DEFAULT_ABI = 2;

    // ffi_status: FFI_OK = 0, FFI_BAD_TYPEDEF, FFI_BAD_ABI, FFI_BAD_ARGTYPE.
    private static readonly string[] StatusNames = ["FFI_OK", "FFI_BAD_TYPEDEF", "FFI_BAD_ABI", "FFI_BAD_ARGTYPE"];

    // sizeof(ffi_cif) on x86_64 is 32 (abi, nargs, arg_types, rtype, bytes, flags); room is left for the
    // FFI_EXTRA_CIF_FIELDS some targets add.
    private const int CifSize = 64;

    private static readonly string[] TypeSymbols =
    [
        "ffi_type_void", "ffi_type_uint8", "ffi_type_sint8", "ffi_type_uint16", "ffi_type_sint16", "ffi_type_uint32",
        "ffi_type_sint32", "ffi_type_uint64", "ffi_type_sint64", "ffi_type_float", "ffi_type_double", "ffi_type_pointer",
    ];

    private static readonly Lazy<nint[]> Types = new(LoadTypes);

    [LibraryImport(LibFfi)]
    private static partial int ffi_prep_cif(void* cif, int abi, uint nargs, void* rtype, void** atypes);

    [LibraryImport(LibFfi)]
    private static partial int ffi_prep_cif_var(void* cif, int abi, uint nfixedargs, uint ntotalargs, void* rtype, void** atypes);

    [LibraryImport(LibFfi)]
    private static partial void ffi_call(void* cif, void* fn, void* rvalue, void** avalue);

    /// <summary>
    /// Calls <paramref name="function"/> with <paramref name="arguments"/> (the first <paramref name="fixedCount"/> are
    /// the prototype's; when <paramref name="variadic"/>, the rest are its variadic ones, already promoted) and returns
    /// the raw return register: integers widened to 64 bits by libffi (truncate to the type), a double's or a float's
    /// IEEE bits. Strings and buffers are copied to native memory, kept alive for the call and freed after; a
    /// buffer's bytes are copied back into its array first.
    /// </summary>
    /// <exception cref="DllNotFoundException">libffi.so.8 cannot be loaded.</exception>
    /// <exception cref="InvalidOperationException">libffi refused the signature.</exception>
    public static ulong Call(nint function, FfiType returnType, ReadOnlySpan<FfiArgument> arguments, int fixedCount, bool variadic)
    {
        var types = Types.Value;
        int count = arguments.Length;
        var typePointers = new nint[Math.Max(count, 1)];
        var valuePointers = new nint[Math.Max(count, 1)];
        var slots = new ulong[Math.Max(count, 1)];
        var strings = new List<nint>();
        var cif = stackalloc ulong[CifSize / sizeof(ulong)];
        var result = stackalloc ulong[2];
        result[0] = result[1] = 0;
        try
        {
            for (int i = 0; i < count; i++)
            {
                typePointers[i] = types[(int)arguments[i].Type];
                slots[i] = arguments[i].IsString ? (ulong)CopyString(arguments[i].Text, strings)
                    : arguments[i].Buffer is { } buffer ? (ulong)CopyBuffer(buffer, strings)
                    : arguments[i].Bits;
            }
            fixed (nint* atypes = typePointers)
            fixed (nint* avalues = valuePointers)
            fixed (ulong* values = slots)
            {
                // Each value lives in an 8-byte slot; little-endian, so a narrower type's bytes start at the slot.
                for (int i = 0; i < count; i++)
                    avalues[i] = (nint)(values + i);
                void* rtype = (void*)types[(int)returnType];
                int status = variadic
                    ? ffi_prep_cif_var(cif, FFI_DEFAULT_ABI, (uint)fixedCount, (uint)count, rtype, (void**)atypes)
                    : ffi_prep_cif(cif, FFI_DEFAULT_ABI, (uint)count, rtype, (void**)atypes);
                if (status != 0)
                    throw new InvalidOperationException(
                        $"libffi: {(variadic ? "ffi_prep_cif_var" : "ffi_prep_cif")} refused the signature: {((uint)status < (uint)StatusNames.Length ? StatusNames[status] : CultureFreeText.Decimal(status))}");
                ffi_call(cif, (void*)function, result, (void**)avalues);
            }
            // What the function wrote into each buffer goes back into its array.
            for (int i = 0; i < count; i++)
                if (arguments[i].Buffer is { } buffer)
                    new ReadOnlySpan<byte>((void*)slots[i], buffer.Length).CopyTo(buffer);
            return result[0];
        }
        finally
        {
            foreach (nint s in strings)
                NativeMemory.Free((void*)s);
        }
    }

    /// <summary>The NUL-terminated string at <paramref name="address"/>, decoded as UTF-8; null for NULL.</summary>
    public static string? ReadCString(nint address) => address == 0 ? null : Marshal.PtrToStringUTF8(address);

    private static nint CopyString(string? text, List<nint> owned)
    {
        if (text is null)
            return 0;
        int length = Encoding.UTF8.GetByteCount(text);
        byte* copy = (byte*)NativeMemory.Alloc((nuint)length + 1);
        owned.Add((nint)copy);
        Encoding.UTF8.GetBytes(text, new Span<byte>(copy, length));
        copy[length] = 0;
        return (nint)copy;
    }

    // At least one byte, so a zero-length buffer still has an address of its own.
    private static nint CopyBuffer(byte[] buffer, List<nint> owned)
    {
        byte* copy = (byte*)NativeMemory.AllocZeroed((nuint)Math.Max(buffer.Length, 1));
        owned.Add((nint)copy);
        buffer.CopyTo(new Span<byte>(copy, buffer.Length));
        return (nint)copy;
    }

    private static nint[] LoadTypes()
    {
        if (!NativeLibrary.TryLoad(LibFfi, out nint handle))
            throw new DllNotFoundException($"{LibFfi} cannot be loaded: calling a function by prototype needs libffi (Debian/Ubuntu: apt install libffi8)");
        var types = new nint[TypeSymbols.Length];
        for (int i = 0; i < types.Length; i++)
            types[i] = NativeLibrary.GetExport(handle, TypeSymbols[i]);
        return types;
    }
}
