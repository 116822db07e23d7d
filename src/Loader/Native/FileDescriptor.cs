using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

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
/// The imports take the descriptor as an <c>int</c> (under a <see cref="Use"/> lease), are blittable and without
/// <c>SetLastError</c>, so ReadyToRun precompiles the calls (errno: <see cref="Errno.Current"/>).
/// </summary>
internal sealed partial class FileDescriptor : SafeHandleMinusOneIsInvalid
{
    public FileDescriptor() : base(ownsHandle: true) { }

    private FileDescriptor(int fd) : base(ownsHandle: true) => SetHandle(fd);

    /// <summary>The descriptor number, for mmap.</summary>
    public int Value => (int)DangerousGetHandle();

    /// <summary>EINTR (asm-generic/errno-base.h): a signal arrived before the call did anything.</summary>
    private const int EINTR = 4;

    // open is variadic (its mode is read only with O_CREAT or O_TMPFILE); on x86_64 a variadic callee takes its integer
    // arguments where a fixed one would.
    [LibraryImport("libc.so.6", EntryPoint = "open")]
    private static unsafe partial int open(byte* path, OpenFlags flags, uint mode);

    [LibraryImport("libc.so.6", EntryPoint = "pread")]
    private static unsafe partial nint pread(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc.so.6", EntryPoint = "write")]
    private static unsafe partial nint write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc.so.6", EntryPoint = "close")]
    private static partial int close(int fd);

    // glibc's fstat (since 2.33 a real symbol) makes newfstatat(fd, "", AT_EMPTY_PATH); the strace-checked trace
    // expects that call.
    [LibraryImport("libc.so.6", EntryPoint = "fstat")]
    private static unsafe partial int fstat(int fd, Stat* buffer);

    /// <summary>struct stat on x86_64 (asm/stat.h, as glibc's): 144 bytes, of which the fields read here.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 144)]
    private struct Stat
    {
        [FieldOffset(0)] public ulong st_dev;
        [FieldOffset(8)] public ulong st_ino;
        [FieldOffset(24)] public uint st_mode;
        [FieldOffset(48)] public long st_size;
    }

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
            fd = open(p, flags, 0); // open's mode only matters with O_CREAT or O_TMPFILE
        // open's failure sentinel is -1 (the descriptor numbers are >= 0).
        errno = fd < 0 ? Errno.Current : 0;
        return fd < 0 ? null : new FileDescriptor(fd);
    }

    /// <summary>Wraps a descriptor this process just created (memfd_create).</summary>
    internal static FileDescriptor FromRaw(int fd) => new(fd);

    /// <summary>fstat(fd).</summary>
    public unsafe bool TryGetStatus(out FileStatus status, out int errno)
    {
        Stat buffer;
        int result;
        using (Use(out int fd))
        {
            result = fstat(fd, &buffer);
            errno = result != 0 ? Errno.Current : 0;
        }
        if (result != 0)
        {
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
                nint n = pread(fd, p + total, (nuint)(destination.Length - total), offset + total);
                if (n < 0)
                {
                    errno = Errno.Current;
                    if (errno == EINTR) // a signal arrived before any byte was read; ask again.
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
                nint n = write(fd, p + done, (nuint)(source.Length - done));
                if (n < 0)
                {
                    errno = Errno.Current;
                    if (errno == EINTR)
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

    /// <summary>
    /// The descriptor number for the calls made until the lease is disposed: what a <see cref="SafeHandle"/> parameter
    /// of a P/Invoke does (ours take an int, so the call needs no marshalling), so a concurrent Dispose cannot close the
    /// descriptor, and let its number be reused for another file, under a call.
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
