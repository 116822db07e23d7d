using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Tmds.Linux;

namespace Loader.Native;

/// <summary><c>O_*</c> of fcntl.h (Linux x86_64 values): how <c>open</c> opens a file.</summary>
[Flags]
internal enum OpenFlags
{
    O_RDONLY = 0x0,
    /// <summary>Closed across exec, so a child started meanwhile does not inherit the descriptor.</summary>
    O_CLOEXEC = 0x80000,
    /// <summary>open() of a FIFO returns at once instead of waiting for a writer; no effect on a regular file's reads.</summary>
    O_NONBLOCK = 0x800,
}

/// <summary>What <c>fstat</c> says about an open file: enough to identify it and to read it.</summary>
internal readonly record struct FileStatus(ulong Device, ulong Inode, uint Mode, long Size)
{
    private const uint S_IFMT = 0xf000;
    private const uint S_IFREG = 0x8000;

    /// <summary>S_ISREG(st_mode).</summary>
    public bool IsRegularFile => (Mode & S_IFMT) == S_IFREG;

    /// <summary>What S_IFMT says the file is, for a refusal's message: "a directory", "a FIFO", ...</summary>
    public string KindName => (Mode & S_IFMT) switch
    {
        S_IFREG => "a regular file",
        0x4000 => "a directory",
        0x1000 => "a FIFO",
        0xc000 => "a socket",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0xa000 => "a symbolic link",
        _ => "of an unknown type",
    };
}

/// <summary>
/// A POSIX file descriptor (open, pread, write, fstat, close). A <see cref="SafeHandle"/>, so a descriptor is closed
/// even when an exception unwinds past its owner, and is not closed (and its number reused) while a call uses it.
/// The calls come from Tmds.LibC, except fstat (see <see cref="fstat"/>).
/// </summary>
internal sealed partial class FileDescriptor : SafeHandleMinusOneIsInvalid
{
    public FileDescriptor() : base(ownsHandle: true) { }

    private FileDescriptor(int fd) : base(ownsHandle: true) => SetHandle(fd);

    /// <summary>The descriptor number, for mmap.</summary>
    public int Value => (int)DangerousGetHandle();

    // Ours, not Tmds.LibC's: its fstat calls glibc's __fxstat compatibility symbol (gone from the link-time API since
    // glibc 2.33), which makes the fstat system call where glibc's own fstat makes newfstatat(fd, "", AT_EMPTY_PATH).
    // Tmds.LibC's struct stat (x86_64 layout, 144 bytes) is still what it fills.
    [LibraryImport("libc.so.6", EntryPoint = "fstat", SetLastError = true)]
    private static unsafe partial int fstat(FileDescriptor fd, stat* buffer);

    /// <summary>
    /// open(path, O_RDONLY|O_CLOEXEC|O_NONBLOCK): CLOEXEC so a child started meanwhile does not inherit it, NONBLOCK so
    /// a FIFO does not block the open forever waiting for a writer (the caller then refuses it after fstat).
    /// </summary>
    public static FileDescriptor? OpenReadOnly(string path, out int errno) =>
        Open(path, OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC | OpenFlags.O_NONBLOCK, out errno);

    private static unsafe FileDescriptor? Open(string path, OpenFlags flags, out int errno)
    {
        int fd;
        fixed (byte* p = CString.Utf8(path, stackalloc byte[CString.StackBytes]))
            fd = LibC.open(p, (int)flags, default); // open's mode only matters with O_CREAT or O_TMPFILE
        // open's failure sentinel is -1 (the descriptor numbers are >= 0).
        errno = fd < 0 ? Errno.Last : 0;
        return fd < 0 ? null : new FileDescriptor(fd);
    }

    /// <summary>Wraps a descriptor this process just created (memfd_create).</summary>
    internal static FileDescriptor FromRaw(int fd) => new(fd);

    /// <summary>fstat(fd).</summary>
    public unsafe bool TryGetStatus(out FileStatus status, out int errno)
    {
        stat buffer;
        if (fstat(this, &buffer) != 0)
        {
            errno = Errno.Last;
            status = default;
            return false;
        }
        errno = 0;
        // st_mode holds S_IFMT and the permission bits: 16 bits, whatever the width of mode_t.
        status = new FileStatus(buffer.st_dev, buffer.st_ino, (ushort)buffer.st_mode, buffer.st_size);
        return true;
    }

    /// <summary>pread until <paramref name="destination"/> is full or the file ends; returns the bytes read, or -1 with errno.</summary>
    public unsafe int ReadAt(Span<byte> destination, long offset, out int errno)
    {
        int total = 0;
        using (Use(out int fd))
        fixed (byte* p = destination)
        {
            while (total < destination.Length)
            {
                long n = LibC.pread(fd, p + total, destination.Length - total, offset + total);
                if (n < 0)
                {
                    errno = Errno.Last;
                    if (errno == LibC.EINTR) // a signal arrived before any byte was read; ask again.
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
        using (Use(out int fd))
        fixed (byte* p = source)
        {
            int done = 0;
            while (done < source.Length)
            {
                long n = LibC.write(fd, p + done, source.Length - done);
                if (n < 0)
                {
                    errno = Errno.Last;
                    if (errno == LibC.EINTR)
                        continue;
                    return false;
                }
                done += (int)n;
            }
        }
        errno = 0;
        return true;
    }

    protected override bool ReleaseHandle() => LibC.close((int)handle) == 0;

    /// <summary>
    /// The descriptor number for the calls made until the lease is disposed: what a <see cref="SafeHandle"/> parameter
    /// of a P/Invoke does (Tmds.LibC's take an int), so a concurrent Dispose cannot close the descriptor, and let its
    /// number be reused for another file, under a call.
    /// </summary>
    internal Lease Use(out int fd)
    {
        bool added = false;
        DangerousAddRef(ref added);
        fd = Value;
        return new Lease(this);
    }

    internal readonly struct Lease(FileDescriptor owner) : IDisposable
    {
        public void Dispose() => owner.DangerousRelease();
    }
}
