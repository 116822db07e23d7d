using System.Runtime.InteropServices;

namespace Loader.Tests.Linking;

/// <summary>Small helpers for calling into loaded libraries from tests: C strings in and out.</summary>
internal static unsafe class Native
{
    public static string? String(nint p) => Marshal.PtrToStringUTF8(p);

    /// <summary>A NUL-terminated UTF-8 copy in native memory; free with <see cref="Free"/>.</summary>
    public static nint CString(string s) => Marshal.StringToCoTaskMemUTF8(s);

    public static void Free(nint p) => Marshal.FreeCoTaskMem(p);
}
