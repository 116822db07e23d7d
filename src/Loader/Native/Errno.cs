using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary>Turns the <c>errno</c> of the last failed call into words: <c>ENOMEM (Cannot allocate memory)</c>.</summary>
internal static unsafe partial class Errno
{
    /// <summary>
    /// The errno saved by the last P/Invoke declared with <c>SetLastError = true</c> (the calls off the load path:
    /// shm_open, fcntl and ftruncate of shared RELRO, sendmsg, recvmsg).
    /// </summary>
    public static int Last => Marshal.GetLastPInvokeError();

    /// <summary>
    /// errno as libc left it on this thread, read right after a call declared without <c>SetLastError</c> (the plain
    /// libc calls: mmap, mprotect, munmap, madvise, open, pread, write, close, fstat, memfd_create, fcntl, mincore).
    /// Such an import needs no marshalling, so ReadyToRun precompiles the call. With <c>SetLastError</c>, a DllImport
    /// needs a stub the JIT compiles on the first call, and a LibraryImport's generated code clears and reads errno
    /// through <c>Marshal.SetLastSystemError</c>/<c>GetLastSystemError</c>, whose own P/Invokes the JIT compiles too
    /// (docs/benchmarks.md, "Cold start"). The read here is the one that generated code makes: a second call into libc
    /// after the first returned.
    /// </summary>
    public static int Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => *errno_location();
    }

    // glibc's errno is a thread-local int; __errno_location returns the calling thread's.
    [LibraryImport("libc.so.6", EntryPoint = "__errno_location")]
    private static partial int* errno_location();

    /// <summary>The values callers tell apart (asm-generic/errno-base.h).</summary>
    public const int EPERM = 1, ENOENT = 2, EACCES = 13, ENOTDIR = 20;

    /// <summary>The symbolic name and the C library's message for <paramref name="errno"/>.</summary>
    public static string Describe(int errno)
    {
        string message = Marshal.GetPInvokeErrorMessage(errno);
        return Name(errno) is { } name ? $"{name} ({message})" : $"errno {errno} ({message})";
    }

    // The values of asm-generic/errno-base.h and errno.h that mmap, mprotect, open, pread and memfd_create return.
    private static string? Name(int errno) => errno switch
    {
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        26 => "ETXTBSY",
        27 => "EFBIG",
        28 => "ENOSPC",
        36 => "ENAMETOOLONG",
        38 => "ENOSYS",
        40 => "ELOOP",
        75 => "EOVERFLOW",
        _ => null,
    };
}
