using Loader.Native;

namespace Loader.Mapping;

/// <summary>
/// Address ranges a caller reserves for <see cref="LoadOptions.ReservedRange"/>: PROT_NONE anonymous pages that nothing
/// else will be mapped into. <see cref="TryClaim"/> claims a given address (another process's load address, for shared
/// RELRO) with MAP_FIXED_NOREPLACE, which fails rather than replace anything already there.
/// </summary>
public static class AddressReservation
{
    /// <summary>Reserves <paramref name="length"/> bytes anywhere, the start a multiple of <paramref name="alignment"/>
    /// (a power of two, at least a page; pass the library's largest p_align).</summary>
    /// <exception cref="ArgumentException">The length is 0 or the alignment not a power of two.</exception>
    /// <exception cref="ImageLoadException">mmap failed.</exception>
    public static AddressRange Reserve(ulong length, ulong alignment = 0)
    {
        ulong page = (ulong)Environment.SystemPageSize;
        ArgumentOutOfRangeException.ThrowIfZero(length);
        alignment = Math.Max(alignment, page);
        if ((alignment & (alignment - 1)) != 0)
            throw new ArgumentException($"0x{alignment:x} is not a power of two.", nameof(alignment));
        length = (length + page - 1) / page * page;
        nint start = AddressSpace.Reserve(length, alignment, out int errno);
        if (start == Mmap.MAP_FAILED)
            ThrowHelper.ImageLoad("", "mmap", errno, $"reserving 0x{length:x} bytes (PROT_NONE) failed: {Errno.Describe(errno)}");
        return new AddressRange(start, length);
    }

    /// <summary>
    /// Claims <c>[address, address + length)</c> with mmap(MAP_FIXED_NOREPLACE, PROT_NONE): true when the range is now
    /// the caller's; false, with the reason, when anything is mapped there (EEXIST) or the kernel would place it elsewhere.
    /// </summary>
    /// <exception cref="ArgumentException">The address is not page-aligned or the length is 0.</exception>
    public static bool TryClaim(nint address, ulong length, out AddressRange range, out string? whyNot)
    {
        ulong page = (ulong)Environment.SystemPageSize;
        if ((ulong)address % page != 0)
            throw new ArgumentException($"0x{address:x} is not page-aligned.", nameof(address));
        ArgumentOutOfRangeException.ThrowIfZero(length);
        length = (length + page - 1) / page * page;
        if (AddressSpace.Claim(address, length, out int errno))
        {
            range = new AddressRange(address, length);
            whyNot = null;
            return true;
        }
        range = default;
        whyNot = errno == AddressSpace.EEXIST
            ? $"[0x{address:x}, +0x{length:x}) is already in use in this process (MAP_FIXED_NOREPLACE: EEXIST)"
            : $"mmap(0x{address:x}, 0x{length:x}, PROT_NONE, MAP_FIXED_NOREPLACE) failed: {Errno.Describe(errno)}";
        return false;
    }

    /// <summary>Unmaps a range this class reserved (after the library in it was disposed). Idempotent.</summary>
    public static void Release(AddressRange range)
    {
        if (range.Length != 0)
            Mmap.Unmap(range.Start, range.Length, out _);
    }
}
