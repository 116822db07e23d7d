using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary>C's stdio, for the one thing .NET needs of it: flushing what C code printed.</summary>
internal static partial class Stdio
{
    [LibraryImport("libc.so.6", EntryPoint = "fflush")]
    private static partial int fflush(nint stream);

    /// <summary>
    /// <c>fflush(NULL)</c>: writes out every C stdio buffer. glibc buffers stdout fully when it is a pipe or a file, so
    /// without this a <c>printf</c> inside a called library would appear after .NET's own output, or never.
    /// </summary>
    public static void FlushAll() => fflush(0);
}
