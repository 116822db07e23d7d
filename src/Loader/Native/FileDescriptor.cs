using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Loader.Native;

/// <summary>What <c>fstat</c> says about an open file: enough to identify it and to read it.</summary>
internal readonly record struct FileStatus(ulong Device, ulong Inode, uint Mode, long Size)
{
    private const uint S_IFMT = 0xf000;
    private const uint S_IFREG = 0x8000;

    /// <summary>S_ISREG(st_mode).</summary>
    public bool IsRegularFile => (Mode & S_IFMT) == S_IFREG;
}

/// <summary>
/// A POSIX file descriptor (open, pread, fstat, close). A <see cref="SafeHandle"/>, so a descriptor is closed even
/// when an exception unwinds past its owner.
/// </summary>
internal sealed partial class FileDescriptor : SafeHandleMinusOneIsInvalid
{
    private const int O_RDONLY = 0x0;
    private const int O_CLOEXEC = 0x80000;

    // struct stat on x86_64 (asm/stat.h): 144 bytes; st_dev at 0, st_ino at 8, st_mode at 24, st_size at 48.
    private const int StatSize = 144;

    public FileDescriptor() : base(ownsHandle: true) { }

    private FileDescriptor(int fd) : base(ownsHandle: true) => SetHandle(fd);

    /// <summary>The descriptor number, for mmap.</summary>
    public int Value => (int)DangerousGetHandle();

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static unsafe partial nint pread(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static unsafe partial int fstat(int fd, byte* statbuf);

    /// <summary>open(path, O_RDONLY|O_CLOEXEC): CLOEXEC so a child started meanwhile does not inherit it.</summary>
    public static FileDescriptor? OpenReadOnly(string path, out int errno)
    {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        errno = fd < 0 ? Errno.Last : 0;
        return fd < 0 ? null : new FileDescriptor(fd);
    }

    /// <summary>Wraps a descriptor this process just created (memfd_create).</summary>
    internal static FileDescriptor FromRaw(int fd) => new(fd);

    /// <summary>fstat(fd).</summary>
    public unsafe bool TryGetStatus(out FileStatus status, out int errno)
    {
        byte* buffer = stackalloc byte[StatSize];
        if (fstat(Value, buffer) != 0)
        {
            errno = Errno.Last;
            status = default;
            return false;
        }
        errno = 0;
        status = new FileStatus(*(ulong*)buffer, *(ulong*)(buffer + 8), *(uint*)(buffer + 24), *(long*)(buffer + 48));
        return true;
    }

    /// <summary>pread until <paramref name="destination"/> is full or the file ends; returns the bytes read, or -1 with errno.</summary>
    public unsafe int ReadAt(Span<byte> destination, long offset, out int errno)
    {
        int total = 0;
        fixed (byte* p = destination)
        {
            while (total < destination.Length)
            {
                nint n = pread(Value, p + total, (nuint)(destination.Length - total), offset + total);
                if (n < 0)
                {
                    errno = Errno.Last;
                    if (errno == 4) // EINTR: a signal arrived before any byte was read; ask again.
                        continue;
                    return -1;
                }
                if (n == 0)
                    break;
                total += (int)n;
            }
        }
        errno = 0;
        return total;
    }

    /// <summary>write until every byte is written; false with errno on failure.</summary>
    public unsafe bool WriteAll(ReadOnlySpan<byte> source, out int errno)
    {
        fixed (byte* p = source)
        {
            int done = 0;
            while (done < source.Length)
            {
                nint n = write(Value, p + done, (nuint)(source.Length - done));
                if (n < 0)
                {
                    errno = Errno.Last;
                    if (errno == 4) // EINTR
                        continue;
                    return false;
                }
                done += (int)n;
            }
        }
        errno = 0;
        return true;
    }

    protected override bool ReleaseHandle() => close((int)handle) == 0;
}
