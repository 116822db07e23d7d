using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary>
/// memfd_create: an anonymous file in memory. An image held in a byte buffer is written into one, so it can be
/// mapped exactly like a file on disk (shareable, file-backed text) while nothing touches the disk.
/// </summary>
internal static partial class Memfd
{
    /// <summary>MFD_CLOEXEC (linux/memfd.h): the descriptor is not inherited across exec.</summary>
    private const uint MFD_CLOEXEC = 0x1;

    /// <summary>The kernel limits the name to 249 bytes (NAME_MAX minus the "memfd:" prefix); longer names fail with EINVAL.</summary>
    public const int MaxNameBytes = 249;

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int memfd_create(string name, uint flags);

    /// <summary>memfd_create(name, MFD_CLOEXEC), then writes <paramref name="bytes"/> into it; null with errno on failure.</summary>
    public static FileDescriptor? Create(string name, ReadOnlySpan<byte> bytes, out int errno, out string failedCall)
    {
        failedCall = "memfd_create";
        int fd = memfd_create(name, MFD_CLOEXEC);
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
}
