using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Loader.Native;

namespace Loader.Elf;

/// <summary>
/// A table's bytes, held as compactly as they can be read back: native memory (a mapped image, a host library) as its
/// address and length, so that <see cref="Span"/> on the lookup and relocation paths is a pointer and a length rather
/// than a virtual call; managed bytes (a file read into an array) as the array, the start and the length. 24 bytes
/// where a <see cref="ReadOnlyMemory{T}"/> with the address beside it took 32: an image keeps about ten of them for
/// as long as it is loaded (docs/benchmarks.md, "Memory held").
/// </summary>
internal readonly struct TableBytes
{
    // Null for native memory; else the byte[] or the MemoryManager the bytes came from.
    private readonly object? _owner;
    // The native address, or the start index in _owner.
    private readonly nint _start;
    private readonly int _length;

    public TableBytes(ReadOnlyMemory<byte> memory)
    {
        _length = memory.Length;
        var native = NativeBytes.Of(memory);
        if (native.IsNative)
            _start = native.Address;
        else if (MemoryMarshal.TryGetArray(memory, out ArraySegment<byte> array))
            (_owner, _start) = (array.Array, array.Offset);
        else if (MemoryMarshal.TryGetMemoryManager(memory, out MemoryManager<byte>? manager, out int start, out _))
            (_owner, _start) = (manager, start);
    }

    public static implicit operator TableBytes(ReadOnlyMemory<byte> memory) => new(memory);

    public int Length => _length;

    /// <summary>Whether the bytes are native memory (nothing managed is referenced).</summary>
    public bool IsNative => _owner is null;

    public ReadOnlySpan<byte> Span
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _owner is null ? NativeBytes.SpanAt(_start, _length) : ManagedSpan();
    }

    private ReadOnlySpan<byte> ManagedSpan() => _owner is byte[] array
        ? new ReadOnlySpan<byte>(array, (int)_start, _length)
        : ((MemoryManager<byte>)_owner!).GetSpan().Slice((int)_start, _length);
}
