namespace Loader;

/// <summary>
/// A system call failed while opening or mapping an image (open, fstat, pread, memfd_create, mmap, mprotect).
/// The message names the file, the call with its arguments, what it was for, and the errno.
/// Everything mapped or opened before the failure has been released when this is thrown.
/// </summary>
public sealed class ImageLoadException : LoaderException
{
    /// <summary>Creates the exception for a failed call.</summary>
    public ImageLoadException(string fileName, string call, int errno, string message)
        : base(message, fileName, inner: null)
    {
        Call = call;
        Errno = errno;
    }

    /// <summary>Creates the exception for a failure that is not an errno (an injected fault, a refused file kind).</summary>
    public ImageLoadException(string fileName, string call, string message, Exception? inner)
        : base(message, fileName, inner) => Call = call;

    /// <summary>The call that failed: <c>open</c>, <c>mmap</c>, <c>mprotect</c>, ...</summary>
    public string Call { get; }

    /// <summary>The errno it failed with, or 0.</summary>
    public int Errno { get; }
}
