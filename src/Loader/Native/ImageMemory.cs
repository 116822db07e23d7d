using System.Buffers.Binary;

namespace Loader.Native;

/// <summary>
/// The one door into a mapped image's bytes: every read or write names an absolute address and a length, and is
/// refused (<see cref="ArgumentOutOfRangeException"/> from here, before any pointer is formed) unless it lies
/// inside the reservation. Relocation writes (<see cref="WriteUInt64"/>, <see cref="WriteUInt32"/>) must also lie
/// inside a range declared writable (<see cref="AddWritable"/>): the image's writable PT_LOADs, and text pages only
/// while a DT_TEXTREL relocation has them made writable (and not executable).
/// </summary>
/// <remarks>It is also the memory manager the image's tables read through (<see cref="GetMemory"/>): one object an
/// image keeps instead of two (docs/benchmarks.md, "Memory held").</remarks>
internal sealed unsafe class ImageMemory : BorrowedMemory
{
    // Copy-on-write: changed a few times per load (PT_LOADs, TEXTREL, RELRO) under the image memory's own monitor (it
    // is internal and never handed to code that could lock it; a lock object of its own would cost 40 bytes an
    // image), read on every relocation without a lock.
    // An empty array of our own: [] is Array.Empty<T>(), whose class constructor for this T the JIT compiles.
    private static readonly (ulong Start, ulong End)[] NoRanges = new (ulong, ulong)[0];
    private volatile (ulong Start, ulong End)[] _writable = NoRanges;

    // A reservation over 2 GiB cannot be one Memory<byte>: as a memory manager it then spans nothing, and GetMemory
    // describes each range on its own.
    public ImageMemory(nint start, ulong length)
        : base(start, length <= int.MaxValue ? length : 0)
    {
        Length = length;
    }

    /// <summary>The first byte of the reservation.</summary>
    public nint Start => Address;

    /// <summary>The reservation's length in bytes.</summary>
    public ulong Length { get; }

    /// <summary>The bytes of <c>[address, address + length)</c>, which must lie inside the reservation.</summary>
    public Span<byte> GetSpan(nint address, int length)
    {
        Check(address, (ulong)length);
        return new Span<byte>((void*)address, length);
    }

    /// <summary>
    /// A <see cref="ReadOnlyMemory{T}"/> over <c>[address, address + length)</c> inside the reservation, for the
    /// dynamic-table readers (<see cref="Elf.VirtualView"/>). Valid while the image is mapped.
    /// </summary>
    public ReadOnlyMemory<byte> GetMemory(nint address, int length)
    {
        Check(address, (ulong)length);
        if (length == 0 || Length > int.MaxValue)
            return BorrowedMemory.Describe(address, (ulong)length);
        // One memory manager for the whole reservation, sliced: the tables, the dynamic section and the program
        // headers of an image all read through it.
        return Memory.Slice((int)((ulong)address - (ulong)Start), length);
    }

    /// <summary>Writes zeros over <c>[address, address + length)</c> (the .bss tail of a file page).</summary>
    public void Clear(nint address, ulong length)
    {
        Check(address, length);
        if (length == 0)
            return;
        // A write before anything else touches the page (the runtime's clear may read it first, and a read would map it
        // and its neighbours from the file: TouchForWrite).
        WriteNothing(address);
        new Span<byte>((void*)address, checked((int)length)).Clear();
    }

    /// <summary>Declares <c>[address, address + length)</c> writable for relocation.</summary>
    public void AddWritable(nint address, ulong length)
    {
        Check(address, length);
        lock (this)
            _writable = [.. _writable, ((ulong)address, (ulong)address + length)];
    }

    /// <summary>Withdraws a range declared by <see cref="AddWritable"/> (after a text relocation, or RELRO).</summary>
    public void RemoveWritable(nint address, ulong length)
    {
        var range = ((ulong)address, (ulong)address + length);
        lock (this)
        {
            int i = Array.IndexOf(_writable, range);
            if (i >= 0)
                _writable = [.. _writable[..i], .. _writable[(i + 1)..]];
        }
    }

    /// <summary>Withdraws every writable range once the image is relocated: nothing writes through this door again, and
    /// the image keeps no list of them while it stays loaded.</summary>
    public void CloseWrites()
    {
        lock (this)
            _writable = NoRanges;
    }

    /// <summary>Withdraws every byte of <c>[address, address + length)</c> from the writable ranges (RELRO).</summary>
    public void ExcludeWritable(nint address, ulong length)
    {
        ulong start = (ulong)address, end = start + length;
        lock (this)
        {
            // Each range is kept, cut in two, shortened or dropped: at most two for each, trimmed after.
            var current = _writable;
            if (current.Length == 0)
                return; // relocation has ended (CloseWrites): nothing to cut
            Span<(ulong Start, ulong End)> kept = current.Length <= 16 ? stackalloc (ulong, ulong)[current.Length * 2] : new (ulong, ulong)[current.Length * 2];
            int n = 0;
            foreach (var (s, e) in current)
            {
                if (e <= start || s >= end)
                {
                    kept[n++] = (s, e);
                    continue;
                }
                if (s < start)
                    kept[n++] = (s, start);
                if (e > end)
                    kept[n++] = (end, e);
            }
            // Copied by hand: Array.Resize over this tuple is generic code the JIT would compile on a first load.
            var exact = new (ulong Start, ulong End)[n];
            for (int i = 0; i < n; i++)
                exact[i] = kept[i];
            _writable = exact;
        }
    }

    /// <summary>True when <c>[address, address + length)</c> lies inside one writable range.</summary>
    public bool IsWritable(nint address, ulong length)
    {
        ulong start = (ulong)address;
        foreach (var (s, e) in _writable)
            if (start >= s && start <= e && length <= e - start)
                return true;
        return false;
    }

    /// <summary>
    /// The whole writable range that holds <c>[address, address + length)</c>, and where it starts; empty when no
    /// writable range holds it. The relocator's tight passes write through it with the span's own bounds checks,
    /// asking again only when a target falls outside the range it holds.
    /// </summary>
    public Span<byte> WritableRangeAt(nint address, ulong length, out ulong rangeStart)
    {
        ulong start = (ulong)address;
        foreach (var (s, e) in _writable)
        {
            if (start >= s && start <= e && length <= e - start)
            {
                Check((nint)s, e - s);
                rangeStart = s;
                return new Span<byte>((void*)s, checked((int)(e - s)));
            }
        }
        rangeStart = 0;
        return default;
    }

    /// <summary>Reads 8 bytes (little-endian) inside the reservation.</summary>
    public ulong ReadUInt64(nint address) => BinaryPrimitives.ReadUInt64LittleEndian(GetSpan(address, 8));

    /// <summary>Reads 4 bytes (little-endian) inside the reservation.</summary>
    public uint ReadUInt32(nint address) => BinaryPrimitives.ReadUInt32LittleEndian(GetSpan(address, 4));

    /// <summary>
    /// Makes the page that holds <paramref name="address"/> the process's own copy before anything reads it, when it
    /// lies in a writable range: an atomic add of 0 to the aligned word there (a write access that changes nothing, so
    /// the kernel's fault copies the one page instead of mapping it and its neighbours read-only). False when the
    /// address is not writable (nothing is done).
    /// </summary>
    public bool TouchForWrite(nint address)
    {
        if (!IsWritable(address & ~(nint)3, 4))
            return false;
        WriteNothing(address);
        return true;
    }

    /// <summary>An atomic add of 0 to the aligned word at <paramref name="address"/>, whose page must be writable: a
    /// write access that changes nothing.</summary>
    private static void WriteNothing(nint address) => Interlocked.Add(ref *(int*)(address & ~(nint)3), 0);

    /// <summary>Writes 8 bytes at an address that must lie in a writable range.</summary>
    public void WriteUInt64(nint address, ulong value)
    {
        CheckWritable(address, 8);
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>((void*)address, 8), value);
    }

    /// <summary>Writes 4 bytes at an address that must lie in a writable range.</summary>
    public void WriteUInt32(nint address, uint value)
    {
        CheckWritable(address, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>((void*)address, 4), value);
    }

    private void CheckWritable(nint address, ulong length)
    {
        Check(address, length);
        if (!IsWritable(address, length))
            throw new ArgumentOutOfRangeException(nameof(address),
                $"[0x{address:x}, +0x{length:x}) does not lie in a writable part of the image");
    }

    /// <summary>
    /// The relocator's innermost loop: <c>R_X86_64_RELATIVE</c> entries of an Elf64_Rela table (as words: r_offset,
    /// r_info, r_addend), from <paramref name="entry"/> on, each writing B + A at B + r_offset while it is a RELATIVE
    /// entry whose symbol index is 0 or below <paramref name="symbolCount"/> and whose 8-byte target lies whole in
    /// <paramref name="window"/> — a writable range <see cref="WritableRangeAt"/> gave, at <paramref name="windowStart"/>.
    /// Returns the first entry it did not apply (the caller's general path decides what that one is, or refuses it).
    /// Not inlined: inside the relocator's pass, whose registers hold its own state, the loop reloaded its bounds and
    /// bases from the stack on every entry.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    public static int ApplyRelativeRun(ReadOnlySpan<ulong> words, int entry, int count, ulong bias, Span<byte> window,
        ulong windowStart, uint symbolCount)
    {
        if (window.Length < 8 || (ulong)count * 3 > (ulong)words.Length)
            return entry;
        ulong last = (ulong)window.Length - 8;
        // The window's link-time address: r_offset - windowOffset is the target's place in the window, and an r_offset
        // below it wraps to a value past `last` (no base + r_offset is formed, so none can wrap back into the window).
        ulong windowOffset = windowStart - bias;
        fixed (ulong* table = words)
        fixed (byte* target = window)
        {
            for (; entry < count; entry++)
            {
                ulong* e = table + (nint)entry * 3;
                ulong info = e[1];
                ulong symbol = info >> 32;
                ulong at = e[0] - windowOffset;
                if ((Elf.X86_64RelocationType)(uint)info != Elf.X86_64RelocationType.Relative || (symbol != 0 && symbol >= symbolCount) || at > last)
                    break;
                *(ulong*)(target + at) = bias + e[2]; // x86_64 stores little-endian, unaligned as r_offset may be
            }
        }
        return entry;
    }

    private void Check(nint address, ulong length)
    {
        ulong offset = unchecked((ulong)address - (ulong)Start);
        if ((ulong)address < (ulong)Start || offset > Length || length > Length - offset)
            throw new ArgumentOutOfRangeException(nameof(address),
                $"[0x{address:x}, +0x{length:x}) lies outside the image's reservation [0x{Start:x}, +0x{Length:x})");
    }
}
