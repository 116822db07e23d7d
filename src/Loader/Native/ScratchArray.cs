using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Loader.Native;

/// <summary>
/// An array of <typeparamref name="T"/> in an anonymous private mapping (read-write, never executable), lent for one
/// use at a time and all zeros again between uses: <see cref="Use"/> makes the first <c>length</c> entries the ones in
/// use, <see cref="Clear"/> zeroes what the use could have written. A small use is cleared with a memset; a large one
/// with <c>madvise(MADV_DONTNEED)</c>, which zeroes it and gives its pages back to the kernel, so that a large use costs
/// no resident memory once it is over, and none of the managed heap at any time. Grown by mapping a larger region when
/// a use needs more (the old one is unmapped); unmapped when the owner is collected (or disposed).
/// </summary>
internal sealed unsafe class ScratchArray<T> : IDisposable where T : unmanaged
{
    /// <summary>The largest part in use that <see cref="Clear"/> zeroes with a memset (64 KiB, 16 pages): below it,
    /// writing zeros is cheaper than the madvise and the page faults of the next use; above it, the pages go back.</summary>
    internal const int LargestClearedInPlace = 64 * 1024;

    private nint _address; // 0 until a use needs memory
    private ulong _mappedBytes;
    private int _length; // the entries in use; 0 between uses

    ~ScratchArray() => Unmap();

    /// <summary>The entries in use (0 between uses).</summary>
    public int Length => _length;

    /// <summary>Where the mapping starts (0 before the first use that needed one); for tests.</summary>
    internal nint Address => _address;

    /// <summary>How many bytes are mapped; for tests.</summary>
    internal ulong MappedBytes => _mappedBytes;

    /// <summary>Entry <paramref name="index"/> of the ones in use: one bounds check, no call (inlined).</summary>
    public ref T this[uint index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if (index >= (uint)_length)
                ThrowIndex();
            return ref ((T*)_address)[index];
        }
    }

    /// <summary>The entries in use, as a span: for a loop that reads many of them (its bounds checks against one length,
    /// which the loop can hoist, rather than a call's check against the field each time).</summary>
    public Span<T> InUse => new((T*)_address, _length);

    /// <summary>Asks the processor to bring entry <paramref name="index"/> into the cache, if it is in use: a pass that
    /// knows which entries it will read next (by an index read from a table it streams) hides their latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(uint index)
    {
        if (index < (uint)_length)
            CachePrefetch.Address((T*)_address + index);
    }

    /// <summary>Lends the first <paramref name="length"/> entries, all zeros, mapping a larger region first when the
    /// current one is too small.</summary>
    /// <param name="length">How many entries the use needs.</param>
    /// <param name="what">Who asks, for the message when the mapping fails.</param>
    /// <exception cref="ImageLoadException">mmap failed.</exception>
    public void Use(int length, string what)
    {
        Debug.Assert(_length == 0, "a scratch array is lent to one use at a time");
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ulong bytes = (ulong)length * (ulong)sizeof(T);
        if (bytes > _mappedBytes)
            Grow(bytes, what);
        _length = length;
    }

    /// <summary>Zeroes the entries the use had (a memset when small, else madvise, which also returns the pages).</summary>
    public void Clear()
    {
        ulong bytes = (ulong)_length * (ulong)sizeof(T);
        _length = 0;
        if (bytes == 0)
            return;
        if (bytes <= LargestClearedInPlace)
        {
            new Span<byte>((void*)_address, (int)bytes).Clear();
            return;
        }
        ulong page = (ulong)Environment.SystemPageSize;
        ulong whole = (bytes + page - 1) & ~(page - 1); // the mapping is whole pages; past the use, they are zero anyway
        if (!Mmap.DiscardAnonymousPages(_address, whole, out _))
            new Span<T>((void*)_address, (int)(bytes / (ulong)sizeof(T))).Clear(); // the advice refused: zeros all the same
    }

    /// <summary>A new mapping for at least <paramref name="bytes"/> (twice the old one, at least 64 KiB, whole pages):
    /// address space only, until an entry is written. The old mapping is all zeros between uses, so nothing is copied.</summary>
    private void Grow(ulong bytes, string what)
    {
        ulong page = (ulong)Environment.SystemPageSize;
        ulong size = Math.Max(Math.Max(bytes, 2 * _mappedBytes), LargestClearedInPlace);
        size = (size + page - 1) & ~(page - 1);
        nint address = Mmap.Map(0, size, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS, -1, 0, out int errno);
        if (address == Mmap.MAP_FAILED)
            ThrowHelper.ImageLoad(what, "mmap", errno, $"{what}: mmap of 0x{size:x} bytes of scratch memory failed: {Errno.Describe(errno)}");
        Unmap();
        _address = address;
        _mappedBytes = size;
    }

    public void Dispose()
    {
        Unmap();
        GC.SuppressFinalize(this);
    }

    private void Unmap()
    {
        if (_address == 0)
            return;
        Mmap.Unmap(_address, _mappedBytes, out _);
        _address = 0;
        _mappedBytes = 0;
        _length = 0;
    }

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowIndex() => throw new IndexOutOfRangeException();
}
