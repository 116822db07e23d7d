using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Loader.Native;

/// <summary>
/// The files shared RELRO is written to and read from: a memfd that accepts seals, or a POSIX shared memory object
/// (<c>shm_open</c>, in libc since glibc 2.34), and the calls made on such a file: seals (fcntl), ftruncate, and
/// mmap <c>MAP_SHARED</c>. Descriptors cross this boundary as <see cref="SafeFileHandle"/>s, the type callers hand to
/// <see cref="LoadOptions.WriteRelro"/>.
/// </summary>
internal static partial class SharedMemory
{
    /// <summary>The seals of fcntl.h (F_ADD_SEALS / F_GET_SEALS).</summary>
    public const int F_SEAL_SEAL = 0x1, F_SEAL_SHRINK = 0x2, F_SEAL_GROW = 0x4, F_SEAL_WRITE = 0x8;

    internal const int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;

    // O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC: a new object only, never one someone else prepared.
    private const int ShmCreateFlags = 0x2 | 0x40 | 0x80 | 0x80000;

    [LibraryImport("libc.so.6", EntryPoint = "shm_open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int shm_open(string name, int flags, uint mode);

    [LibraryImport("libc.so.6", EntryPoint = "shm_unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int shm_unlink(string name);

    [LibraryImport("libc.so.6", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl(SafeFileHandle fd, int command, int argument);

    [LibraryImport("libc.so.6", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int fdatasync(SafeFileHandle fd);

    [LibraryImport("libc.so.6", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int ftruncate(SafeFileHandle fd, long length);

    /// <summary>memfd_create(name, MFD_CLOEXEC|MFD_ALLOW_SEALING); null with errno on failure.</summary>
    public static SafeFileHandle? CreateMemfd(string name, out int errno)
    {
        var fd = Memfd.CreateEmpty(name, out errno);
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>shm_open(name, O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600); null with errno on failure (EEXIST: the name
    /// is taken).</summary>
    public static SafeFileHandle? CreateShm(string name, out int errno)
    {
        int fd = shm_open(name, ShmCreateFlags, 0x180);
        // shm_open's failure sentinel is -1, like open's.
        errno = fd < 0 ? Errno.Last : 0;
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>shm_unlink(name): the name goes, the object lives on while a descriptor or mapping holds it.</summary>
    public static bool UnlinkShm(string name, out int errno)
    {
        bool ok = shm_unlink(name) == 0;
        errno = ok ? 0 : Errno.Last;
        return ok;
    }

    /// <summary>F_GET_SEALS, or -1 with errno (EINVAL) for a file that has no seals at all (anything but a memfd and,
    /// since Linux 5.x, hugetlbfs).</summary>
    public static int GetSeals(SafeFileHandle fd, out int errno)
    {
        int seals = fcntl(fd, F_GET_SEALS, 0);
        errno = seals < 0 ? Errno.Last : 0;
        return seals;
    }

    /// <summary>F_ADD_SEALS; false with errno (EBUSY for F_SEAL_WRITE while a writable shared mapping exists, EPERM
    /// once F_SEAL_SEAL is set).</summary>
    public static bool AddSeals(SafeFileHandle fd, int seals, out int errno)
    {
        bool ok = fcntl(fd, F_ADD_SEALS, seals) == 0;
        errno = ok ? 0 : Errno.Last;
        return ok;
    }

    /// <summary>fdatasync: the written pages reach the disk and become clean (a no-op on tmpfs: memfd, shm). False with errno.</summary>
    public static bool SyncData(SafeFileHandle fd, out int errno)
    {
        bool ok = fdatasync(fd) == 0;
        errno = ok ? 0 : Errno.Last;
        return ok;
    }

    /// <summary>ftruncate; false with errno.</summary>
    public static bool Truncate(SafeFileHandle fd, long length, out int errno)
    {
        bool ok = ftruncate(fd, length) == 0;
        errno = ok ? 0 : Errno.Last;
        return ok;
    }

    /// <summary>
    /// mmap(address, length, PROT_READ, MAP_SHARED|MAP_FIXED, fd, offset): replaces pages of an image (inside its own
    /// reservation) with the file's, read-only. False with errno.
    /// </summary>
    public static bool MapSharedReadOnly(nint address, ulong length, SafeFileHandle fd, ulong offset, out int errno)
    {
        bool added = false;
        fd.DangerousAddRef(ref added); // the number cannot be closed and reused under the call
        try
        {
            nint result = Mmap.Map(address, length, Prot.PROT_READ, MapFlags.MAP_SHARED | MapFlags.MAP_FIXED,
                (int)fd.DangerousGetHandle(), offset, out errno);
            return result != Mmap.MAP_FAILED;
        }
        finally
        {
            if (added)
                fd.DangerousRelease();
        }
    }

    /// <summary>
    /// Puts private anonymous pages holding <paramref name="bytes"/> at <paramref name="address"/>, read-only: a page
    /// that must not come from the shared file after all (it changed under us) gets our own bytes back. Made
    /// read-write (never executable), filled, then read-only.
    /// </summary>
    public static unsafe bool MapPrivateCopy(nint address, ReadOnlySpan<byte> bytes, out int errno)
    {
        nint result = Mmap.Map(address, (ulong)bytes.Length, Prot.PROT_READ | Prot.PROT_WRITE,
            MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS | MapFlags.MAP_FIXED, -1, 0, out errno);
        if (result == Mmap.MAP_FAILED)
            return false;
        bytes.CopyTo(new Span<byte>((void*)address, bytes.Length));
        return Mmap.Protect(address, (ulong)bytes.Length, Prot.PROT_READ, out errno);
    }

}
