using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary>
/// Address ranges a caller owns: reserved anywhere, claimed at a given address without clobbering anything
/// (<c>MAP_FIXED_NOREPLACE</c>), given back as PROT_NONE, checked to be mapped at all. The loader's own reservation is
/// the mapper's; these serve a caller's (<see cref="LoadOptions.ReservedRange"/>).
/// </summary>
internal static unsafe partial class AddressSpace
{
    [LibraryImport("libc.so.6", EntryPoint = "mincore")]
    private static partial int mincore(nint address, nuint length, byte* vector);

    private const MapFlags ReservationFlags = MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS | MapFlags.MAP_NORESERVE;

    /// <summary>EEXIST (asm-generic/errno-base.h): what MAP_FIXED_NOREPLACE fails with when something is mapped there.</summary>
    public const int EEXIST = 17;

    /// <summary>
    /// A PROT_NONE range of <paramref name="length"/> bytes whose start is a multiple of <paramref name="alignment"/>:
    /// over-reserved by the alignment and trimmed at both ends, as the mapper does. <see cref="Mmap.MAP_FAILED"/> with
    /// errno on failure.
    /// </summary>
    public static nint Reserve(ulong length, ulong alignment, out int errno)
    {
        ulong page = (ulong)Environment.SystemPageSize;
        ulong extra = alignment > page ? alignment - page : 0;
        nint raw = Mmap.Map(0, length + extra, Prot.PROT_NONE, ReservationFlags, -1, 0, out errno);
        if (raw == Mmap.MAP_FAILED || extra == 0)
            return raw;
        ulong start = ((ulong)raw + alignment - 1) / alignment * alignment;
        ulong rawEnd = (ulong)raw + length + extra, end = start + length;
        if (start > (ulong)raw)
            Mmap.Unmap(raw, start - (ulong)raw, out _);
        if (rawEnd > end)
            Mmap.Unmap((nint)end, rawEnd - end, out _);
        return (nint)start;
    }

    /// <summary>
    /// mmap(address, length, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE|MAP_FIXED_NOREPLACE): true when the
    /// range is now ours. False with EEXIST when anything lies there, or when the kernel (before 4.17, which ignores
    /// the flag) placed it elsewhere — then that mapping is unmapped again.
    /// </summary>
    public static bool Claim(nint address, ulong length, out int errno)
    {
        nint result = Mmap.Map(address, length, Prot.PROT_NONE, ReservationFlags | MapFlags.MAP_FIXED_NOREPLACE, -1, 0, out errno);
        if (result == Mmap.MAP_FAILED)
            return false;
        if (result == address)
            return true;
        Mmap.Unmap(result, length, out _);
        errno = EEXIST;
        return false;
    }

    /// <summary>
    /// Puts PROT_NONE anonymous pages over <c>[address, address + length)</c> (MAP_FIXED inside a range the caller
    /// reserved): what was mapped there is gone and the range stays the caller's. True on success.
    /// </summary>
    public static bool ResetToNone(nint address, ulong length, out int errno)
    {
        nint result = Mmap.Map(address, length, Prot.PROT_NONE, ReservationFlags | MapFlags.MAP_FIXED, -1, 0, out errno);
        return result != Mmap.MAP_FAILED;
    }

    /// <summary>
    /// True when every page of the range is mapped (mincore fails with ENOMEM on an unmapped page): a caller's
    /// reservation is checked before anything is mapped over it with MAP_FIXED.
    /// </summary>
    public static bool IsMapped(nint address, ulong length)
    {
        ulong page = (ulong)Environment.SystemPageSize;
        ulong pages = (length + page - 1) / page;
        const ulong PagesPerCall = 4096;
        byte* vector = stackalloc byte[(int)PagesPerCall];
        for (ulong done = 0; done < pages; done += PagesPerCall)
        {
            ulong count = Math.Min(PagesPerCall, pages - done);
            if (mincore((nint)((ulong)address + done * page), (nuint)(count * page), vector) != 0)
                return false;
        }
        return true;
    }
}
