using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary>Turns the <c>errno</c> of the last failed call into words: <c>ENOMEM (Cannot allocate memory)</c>.</summary>
internal static class Errno
{
    /// <summary>
    /// The errno saved by the last P/Invoke declared with <c>SetLastError = true</c>: ours, and Tmds.LibC's, whose
    /// <c>LibC.errno</c> reads this same per-thread value (<c>Marshal.GetLastWin32Error</c>).
    /// </summary>
    public static int Last => Marshal.GetLastPInvokeError();

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
