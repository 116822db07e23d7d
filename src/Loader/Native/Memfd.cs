using Tmds.Linux;

namespace Loader.Native;

/// <summary><c>MFD_*</c> of linux/memfd.h: how <c>memfd_create</c> creates the file.</summary>
[Flags]
internal enum MemfdFlags : uint
{
    /// <summary>The descriptor is not inherited across exec.</summary>
    MFD_CLOEXEC = 0x1,
}

/// <summary>
/// memfd_create (through Tmds.LibC): an anonymous file in memory. An image held in a byte buffer is written into one,
/// so it can be mapped exactly like a file on disk (shareable, file-backed text) while nothing touches the disk.
/// </summary>
internal static class Memfd
{
    /// <summary>The kernel limits the name to 249 bytes (NAME_MAX minus the "memfd:" prefix); longer names fail with EINVAL.</summary>
    public const int MaxNameBytes = 249;

    /// <summary>memfd_create(name, MFD_CLOEXEC), then writes <paramref name="bytes"/> into it; null with errno on failure.</summary>
    public static FileDescriptor? Create(string name, ReadOnlySpan<byte> bytes, out int errno, out string failedCall)
    {
        failedCall = "memfd_create";
        int fd = Create(name, MemfdFlags.MFD_CLOEXEC);
        // memfd_create's failure sentinel is -1, like open's.
        if (fd < 0)
        {
            errno = Errno.Last;
            return null;
        }
        var descriptor = FileDescriptor.FromRaw(fd);
        if (!descriptor.WriteAll(bytes, out errno))
        {
            failedCall = "write";
            descriptor.Dispose();
            return null;
        }
        return descriptor;
    }

    private static unsafe int Create(string name, MemfdFlags flags)
    {
        fixed (byte* p = CString.Utf8(name, stackalloc byte[CString.StackBytes]))
            return LibC.memfd_create(p, (uint)flags);
    }
}
