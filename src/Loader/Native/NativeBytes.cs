using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary>
/// A range of this process's memory that a <see cref="BorrowedMemory"/> describes (a mapped image's table, a host
/// library's), held as its address and length. For the readers that take a span of a table on every lookup or every
/// relocation: a span from it is a pointer and a length, where <see cref="ReadOnlyMemory{T}.Span"/> over a
/// <see cref="System.Buffers.MemoryManager{T}"/> is a type test and a virtual call. The owner's lifetime bounds it,
/// exactly as it bounds the <see cref="ReadOnlyMemory{T}"/> it was made from.
/// </summary>
internal readonly unsafe struct NativeBytes
{
    private readonly nint _address;
    private readonly int _length;

    private NativeBytes(nint address, int length)
    {
        _address = address;
        _length = length;
    }

    /// <summary>The native range behind <paramref name="memory"/>, or an empty value (<see cref="IsNative"/> false)
    /// when it is managed bytes (a file read into an array).</summary>
    public static NativeBytes Of(ReadOnlyMemory<byte> memory) =>
        MemoryMarshal.TryGetMemoryManager(memory, out BorrowedMemory? manager, out int start, out int length)
            ? new NativeBytes(manager.Address + start, length)
            : default;

    public bool IsNative => _address != 0;

    /// <summary>The first byte (0 when not native).</summary>
    public nint Address => _address;

    /// <summary>The span of <paramref name="length"/> bytes at <paramref name="address"/>: for a holder that kept a
    /// native range's address and length (<see cref="Loader.Elf.TableBytes"/>), which the range's owner still holds.</summary>
    public static ReadOnlySpan<byte> SpanAt(nint address, int length) => new((void*)address, length);

    public ReadOnlySpan<byte> Span => new((void*)_address, _length);
}
