using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary><c>PROT_*</c> of sys/mman.h: the access of a mapping.</summary>
[Flags]
internal enum Prot
{
    PROT_NONE = 0x0,
    PROT_READ = 0x1,
    PROT_WRITE = 0x2,
    PROT_EXEC = 0x4,
}

/// <summary><c>MAP_*</c> of sys/mman.h (Linux x86_64 values).</summary>
[Flags]
internal enum MapFlags
{
    MAP_SHARED = 0x01,
    MAP_PRIVATE = 0x02,
    MAP_FIXED = 0x10,
    MAP_ANONYMOUS = 0x20,
    MAP_NORESERVE = 0x4000,
    /// <summary>Like MAP_FIXED, but fails with EEXIST instead of replacing an existing mapping (Linux 4.17; older
    /// kernels take it as a hint and may place the mapping elsewhere).</summary>
    MAP_FIXED_NOREPLACE = 0x100000,
}

/// <summary>
/// mmap, mprotect, munmap and madvise. Addresses cross this boundary as <see cref="nint"/>, never as pointers; flags
/// as <see cref="Prot"/> and <see cref="MapFlags"/>. The imports are blittable and without <c>SetLastError</c>, so
/// ReadyToRun precompiles the calls (errno: <see cref="Errno.Current"/>).
/// </summary>
internal static partial class Mmap
{
    [LibraryImport("libc.so.6", EntryPoint = "mmap")]
    private static partial nint mmap(nint address, nuint length, Prot prot, MapFlags flags, int fd, long offset);

    [LibraryImport("libc.so.6", EntryPoint = "mprotect")]
    private static partial int mprotect(nint address, nuint length, Prot prot);

    [LibraryImport("libc.so.6", EntryPoint = "munmap")]
    private static partial int munmap(nint address, nuint length);

    [LibraryImport("libc.so.6", EntryPoint = "madvise")]
    private static partial int madvise(nint address, nuint length, int advice);

    /// <summary>
    /// What mmap returns on failure: <c>MAP_FAILED</c> is <c>(void *) -1</c>, not NULL, because 0 can be a valid
    /// mapping address (with <c>MAP_FIXED</c> and a low <c>vm.mmap_min_addr</c>).
    /// </summary>
    public static readonly nint MAP_FAILED = -1;

    /// <summary>
    /// mmap; returns the address, or <see cref="MAP_FAILED"/> with <paramref name="errno"/> set. <paramref name="fd"/>
    /// is -1 for an anonymous mapping.
    /// </summary>
    public static nint Map(nint address, ulong length, Prot prot, MapFlags flags, int fd, ulong offset, out int errno)
    {
        nint result = mmap(address, (nuint)length, prot, flags, fd, (long)offset);
        errno = result == MAP_FAILED ? Errno.Current : 0;
        return result;
    }

    /// <summary>mmap of <paramref name="file"/>, which cannot be closed (and its number reused) during the call.</summary>
    public static nint Map(nint address, ulong length, Prot prot, MapFlags flags, FileDescriptor file, ulong offset, out int errno)
    {
        using (file.Use(out int fd))
            return Map(address, length, prot, flags, fd, offset, out errno);
    }

    /// <summary>mprotect; true on success, else <paramref name="errno"/> is set.</summary>
    public static bool Protect(nint address, ulong length, Prot prot, out int errno)
    {
        bool ok = mprotect(address, (nuint)length, prot) == 0;
        errno = ok ? 0 : Errno.Current;
        return ok;
    }

    /// <summary>munmap; true on success, else <paramref name="errno"/> is set.</summary>
    public static bool Unmap(nint address, ulong length, out int errno)
    {
        bool ok = munmap(address, (nuint)length) == 0;
        errno = ok ? 0 : Errno.Current;
        return ok;
    }

    /// <summary><c>MADV_DONTNEED</c> (asm-generic/mman-common.h).</summary>
    private const int MADV_DONTNEED = 4;

    /// <summary>
    /// madvise(MADV_DONTNEED): drops the range's pages from this process. A page of a private file mapping that was
    /// never written comes back from the file on its next access, so for such pages this frees resident memory and
    /// changes nothing the program can read; a written page would lose what was written. True on success, else
    /// <paramref name="errno"/> is set.
    /// </summary>
    public static bool DropUnwrittenPages(nint address, ulong length, out int errno) => DontNeed(address, length, out errno);

    /// <summary>
    /// madvise(MADV_DONTNEED) of a private anonymous range: its pages go back to the kernel, and read as zeros on their
    /// next access (a fresh zero page each). Clears a large scratch range without writing it. True on success, else
    /// <paramref name="errno"/> is set.
    /// </summary>
    public static bool DiscardAnonymousPages(nint address, ulong length, out int errno) => DontNeed(address, length, out errno);

    /// <summary>The one madvise(MADV_DONTNEED) behind both: what it means depends on the mapping, which the callers name.</summary>
    private static bool DontNeed(nint address, ulong length, out int errno)
    {
        bool ok = madvise(address, (nuint)length, MADV_DONTNEED) == 0;
        errno = ok ? 0 : Errno.Current;
        return ok;
    }
}
