using Loader.Elf;

namespace Loader.Mapping;

/// <summary>
/// The array a load decodes its program headers into (<see cref="ProgramHeaderTable.DecodeEntries"/>), lent by the
/// thread for the length of one mapping and kept for its next. Not <c>ArrayPool&lt;ProgramHeader&gt;.Shared</c>: a
/// framework generic over one of Loader's structs is not in the ReadyToRun image, so the pool cost the first load of
/// every process nine methods compiled by the JIT (about 4 ms); and a per-thread spare needs no locks or buckets
/// (<see cref="SpareBuffers"/> does the same for bytes).
/// A nested load on the same thread (an initializer that loads) finds no spare and allocates one of its own.
/// </summary>
internal static class DecodedHeaderArray
{
    /// <summary>The largest array kept between loads: more than any real library has (the system folder's have 7 to 14); a
    /// hostile file's 65,535 headers get an array that is dropped afterwards.</summary>
    internal const int LargestKept = 64;

    [ThreadStatic]
    private static ProgramHeader[]? t_spare;

    /// <summary>An array of at least <paramref name="count"/> entries (what is past them, or in them before the
    /// caller writes, is whatever the last load left).</summary>
    public static ProgramHeader[] Rent(int count)
    {
        var spare = t_spare;
        if (spare is not null && spare.Length >= count)
        {
            t_spare = null;
            return spare;
        }
        return new ProgramHeader[Math.Max(count, 16)];
    }

    /// <summary>Gives <paramref name="array"/> back to the thread, unless it is larger than <see cref="LargestKept"/>
    /// or the thread already holds one at least as large.</summary>
    public static void Return(ProgramHeader[] array)
    {
        if (array.Length <= LargestKept && (t_spare is null || t_spare.Length < array.Length))
            t_spare = array;
    }
}
