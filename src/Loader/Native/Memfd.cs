using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary><c>MFD_*</c> of linux/memfd.h: how <c>memfd_create</c> creates the file.</summary>
[Flags]
internal enum MemfdFlags : uint
{
    /// <summary>The descriptor is not inherited across exec.</summary>
    MFD_CLOEXEC = 0x1,

    /// <summary>The file accepts seals (fcntl F_ADD_SEALS).</summary>
    MFD_ALLOW_SEALING = 0x2,
}

/// <summary>
/// memfd_create: an anonymous file in memory. An image held in a byte buffer is written into one,
/// so it can be mapped exactly like a file on disk (shareable, file-backed text) while nothing touches the disk.
/// </summary>
internal static partial class Memfd
{
    // Blittable, without SetLastError (errno: Errno.Current), like the other plain libc calls.
    [LibraryImport("libc.so.6", EntryPoint = "memfd_create")]
    private static unsafe partial int memfd_create(byte* name, MemfdFlags flags);

    // fcntl is variadic; on x86_64 its int argument goes where a fixed one would.
    [LibraryImport("libc.so.6", EntryPoint = "fcntl")]
    private static partial int fcntl(int fd, int command, int argument);

    /// <summary>The kernel limits the name to 249 bytes (NAME_MAX minus the "memfd:" prefix); longer names fail with EINVAL.</summary>
    public const int MaxNameBytes = 249;

    /// <summary>
    /// memfd_create(name, MFD_CLOEXEC|MFD_ALLOW_SEALING), writes <paramref name="bytes"/> into it, then seals it against
    /// any change of size or content (F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE|F_SEAL_SEAL): a mapping of a file that
    /// shrinks dies with SIGBUS, and nothing, not even another holder of the descriptor, can shrink this one.
    /// Null with errno on failure; <paramref name="failedCall"/> names the call.
    /// </summary>
    public static FileDescriptor? Create(string name, ReadOnlySpan<byte> bytes, out int errno, out string failedCall)
    {
        failedCall = "memfd_create";
        int fd = Create(name, MemfdFlags.MFD_CLOEXEC | MemfdFlags.MFD_ALLOW_SEALING);
        // memfd_create's failure sentinel is -1, like open's.
        if (fd < 0)
        {
            errno = Errno.Current;
            return null;
        }
        var descriptor = FileDescriptor.FromRaw(fd);
        if (!descriptor.WriteAll(bytes, out errno))
        {
            failedCall = "write";
            descriptor.Dispose();
            return null;
        }
        if (!Seal(descriptor, out errno))
        {
            failedCall = "fcntl";
            descriptor.Dispose();
            return null;
        }
        return descriptor;
    }

    /// <summary>memfd_create(name, MFD_CLOEXEC|MFD_ALLOW_SEALING) of an empty file to be written and sealed by the
    /// caller (shared RELRO); the descriptor, or -1 with errno.</summary>
    public static int CreateEmpty(string name, out int errno)
    {
        int fd = Create(name, MemfdFlags.MFD_CLOEXEC | MemfdFlags.MFD_ALLOW_SEALING);
        errno = fd < 0 ? Errno.Current : 0;
        return fd;
    }

    private static bool Seal(FileDescriptor descriptor, out int errno)
    {
        using (descriptor.Use(out int fd))
        {
            const int seals = SharedMemory.F_SEAL_SHRINK | SharedMemory.F_SEAL_GROW | SharedMemory.F_SEAL_WRITE | SharedMemory.F_SEAL_SEAL;
            // fcntl's failure sentinel is -1.
            if (fcntl(fd, SharedMemory.F_ADD_SEALS, seals) < 0)
            {
                errno = Errno.Current;
                return false;
            }
        }
        errno = 0;
        return true;
    }

    private static unsafe int Create(string name, MemfdFlags flags)
    {
        // The name is only a label (/proc/self/maps shows /memfd:NAME); the kernel refuses one over 249 bytes with
        // EINVAL, so a longer one is cut there, at a UTF-8 character boundary.
        var utf8 = CString.Utf8(name, stackalloc byte[CString.StackBytes]);
        if (utf8.Length - 1 > MaxNameBytes)
        {
            int cut = MaxNameBytes;
            while (cut > 0 && (utf8[cut] & 0xc0) == 0x80)
                cut--; // not inside a multi-byte character
            var shortened = new byte[cut + 1];
            utf8[..cut].CopyTo(shortened);
            utf8 = shortened;
        }
        fixed (byte* p = utf8)
            return memfd_create(p, flags);
    }
}
