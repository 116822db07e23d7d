using System.Runtime.InteropServices;

namespace Loader.Benchmarks;

/// <summary>
/// The system loader's dlopen/dlsym/dlclose, the baseline the benchmarks compare against. Since glibc 2.34 these
/// live in libc.so.6 itself (libdl.so.2 is an empty stub), so that is the library imported.
/// </summary>
internal static unsafe partial class Glibc
{
    private const string LibC = "libc.so.6";

    public const int RTLD_LAZY = 0x0001;
    public const int RTLD_NOW = 0x0002;
    /// <summary>Do not load: return a handle only if the object is already loaded (and take a reference on it).</summary>
    public const int RTLD_NOLOAD = 0x0004;
    public const int RTLD_LOCAL = 0;

    [LibraryImport(LibC, EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint DlOpen(string? path, int flags);

    /// <summary>dlopen with a name already in native UTF-8, so a benchmark measures glibc, not string marshalling.</summary>
    [LibraryImport(LibC, EntryPoint = "dlopen")]
    public static partial nint DlOpen(byte* path, int flags);

    [LibraryImport(LibC, EntryPoint = "dlsym")]
    public static partial nint DlSym(nint handle, byte* name);

    [LibraryImport(LibC, EntryPoint = "dlclose")]
    public static partial int DlClose(nint handle);

    [LibraryImport(LibC, EntryPoint = "dlerror")]
    private static partial nint DlErrorPointer();

    /// <summary>The pending dlerror text, or a placeholder when there is none.</summary>
    public static string DlError() => Marshal.PtrToStringUTF8(DlErrorPointer()) ?? "(no dlerror)";

    /// <summary>Whether the system loader has <paramref name="path"/> (by name or by device and inode) loaded now:
    /// <c>dlopen(RTLD_NOLOAD)</c>, and the reference it took given back.</summary>
    public static bool IsLoaded(string path)
    {
        nint handle = DlOpen(path, RTLD_NOW | RTLD_NOLOAD);
        if (handle == 0)
            return false;
        DlClose(handle);
        return true;
    }

    /// <summary>A NUL-terminated UTF-8 copy of <paramref name="text"/> in native memory; free it with
    /// <see cref="FreeNativeUtf8"/>.</summary>
    public static byte* ToNativeUtf8(string text) => (byte*)Marshal.StringToCoTaskMemUTF8(text);

    public static void FreeNativeUtf8(byte* text) => Marshal.FreeCoTaskMem((nint)text);

    /// <summary>One <c>dlopen(RTLD_NOW|RTLD_LOCAL)</c> + <c>dlclose</c> of <paramref name="copy"/>, timed in microseconds
    /// (the path encoded before the clock starts).</summary>
    public static double TimeLoadUnload(string copy)
    {
        byte* path = ToNativeUtf8(copy);
        try
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            nint handle = DlOpen(path, RTLD_NOW | RTLD_LOCAL);
            if (handle == 0)
                throw new InvalidOperationException($"dlopen({copy}): {DlError()}");
            DlClose(handle);
            return System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        finally
        {
            FreeNativeUtf8(path);
        }
    }
}
