using System.Runtime.CompilerServices;

namespace Loader.Native;

/// <summary>
/// The unwind table check's common case as one tight loop: a run of FDEs that name the same CIE, whose encoding is
/// gcc's and clang's <c>pcrel|sdata4</c>, in an image with one executable segment. The general walk
/// (<c>UnwindTableCheck</c>) hands it each such run and takes back every entry it does not take — a terminator, a CIE,
/// an FDE of another CIE, or one the walk refuses — so the rules live there once; here the entries' bytes are read
/// through a pointer, with the loop's state in registers (the span-based walk spilled it to the stack on every entry,
/// and a large library's table has thousands).
/// </summary>
internal static unsafe class UnwindFdeRun
{
    /// <summary>Gathered so far: the lowest and highest code address the run's FDEs describe, whether one's range wrapped,
    /// whether any was gathered (an FDE whose <c>pc_begin</c> is 0 describes nothing: libgcc skips it).</summary>
    public struct Described
    {
        public ulong Lowest;
        public ulong Highest;
        public bool Wrapped;
        public bool Gathered;
    }

    /// <summary>
    /// Walks from <paramref name="position"/> while each entry is an FDE of the CIE at <paramref name="cie"/> whose
    /// length is at least <paramref name="minimumLength"/> and ends at or before <paramref name="limit"/>; returns the
    /// position of the first entry it did not take. <paramref name="tableAddress"/> is where byte 0 of
    /// <paramref name="bytes"/> is mapped (a pcrel field's own address is the base of its value).
    /// </summary>
    [SkipLocalsInit]
    public static int Walk(ReadOnlySpan<byte> bytes, int position, long limit, long cie, int minimumLength,
        ulong tableAddress, ref Described described)
    {
        // Every entry taken is whole inside the span: limit <= bytes.Length, and an FDE of minimumLength (at least
        // 12: the CIE pointer and two 4-byte fields) holds the 16 bytes read below.
        if (minimumLength < 12 || limit > bytes.Length)
            return position;
        ulong lowest = described.Lowest, highest = described.Highest;
        bool wrapped = described.Wrapped, gathered = described.Gathered;
        long at = position;
        fixed (byte* table = bytes)
        {
            while (at + 4 <= limit)
            {
                if (at + 1024 < bytes.Length)
                    CachePrefetch.Address(table + at + 1024); // each length is read before the next entry is known
                uint length = Unsafe.ReadUnaligned<uint>(table + at);
                if (length < (uint)minimumLength || at + 4 + (long)length > limit)
                    break; // the terminator (0), an extended length (0xffffffff), or one the walk refuses
                uint cieDelta = Unsafe.ReadUnaligned<uint>(table + at + 4);
                if (cieDelta == 0 || at + 4 - cieDelta != cie)
                    break; // a CIE, or an FDE of another CIE
                long fields = Unsafe.ReadUnaligned<long>(table + at + 8);
                if ((int)fields != 0)
                {
                    ulong begin = tableAddress + (ulong)at + 8 + (ulong)(long)(int)fields;
                    ulong end = begin + (ulong)(fields >> 32);
                    lowest = Math.Min(lowest, begin);
                    highest = Math.Max(highest, end);
                    wrapped |= end < begin;
                    gathered = true;
                }
                at += 4 + length;
            }
        }
        described.Lowest = lowest;
        described.Highest = highest;
        described.Wrapped = wrapped;
        described.Gathered = gathered;
        return (int)at;
    }
}
