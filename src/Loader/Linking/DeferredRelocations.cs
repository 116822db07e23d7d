using System.Buffers.Binary;

namespace Loader.Linking;

/// <summary>
/// The relocations the relocator's first pass leaves for later (those that need a resolver, the TLS ones), as
/// (table, index) pairs in one borrowed buffer (<see cref="SpareBuffers"/>: the thread's, or the shared pool's for a
/// large one): a library with a million IFUNC-bound relocations costs a pooled array, not a list that doubles on the
/// managed heap. <see cref="Dispose"/> gives the buffer back. The buffer is bytes (8 an entry): a pool of another
/// element type would be compiled by the JIT on a process's first load. A field of its relocator, not an object of its
/// own: most libraries defer nothing.
/// </summary>
internal struct DeferredRelocations : IDisposable
{
    private const int EntrySize = 8;
    private byte[]? _items; // null until the first relocation is deferred

    /// <summary>How many were deferred.</summary>
    public int Count { get; private set; }

    /// <summary>Relocation <paramref name="index"/> of table <paramref name="table"/> (1-based, as the relocator numbers them).</summary>
    public void Add(byte table, int index)
    {
        if (_items is null || (Count + 1) * EntrySize > _items.Length)
            Grow();
        BinaryPrimitives.WriteInt64LittleEndian(_items.AsSpan(Count++ * EntrySize), ((long)table << 32) | (uint)index);
    }

    /// <summary>The <paramref name="position"/>th deferred relocation, in the order they were added.</summary>
    public (byte Table, int Index) this[int position]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)position, (uint)Count, nameof(position));
            long item = BinaryPrimitives.ReadInt64LittleEndian(_items!.AsSpan(position * EntrySize));
            return ((byte)(item >> 32), (int)(uint)item);
        }
    }

    private void Grow()
    {
        var larger = SpareBuffers.Rent(Math.Max(16 * EntrySize, (_items?.Length ?? 0) * 2));
        if (_items is not null)
        {
            _items.AsSpan(0, Count * EntrySize).CopyTo(larger);
            SpareBuffers.Return(_items);
        }
        _items = larger;
    }

    public void Dispose()
    {
        if (_items is not null)
            SpareBuffers.Return(_items);
        _items = null;
        Count = 0;
    }
}
