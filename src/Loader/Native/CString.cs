using System.Text;

namespace Loader.Native;

/// <summary>
/// NUL-terminated UTF-8 for the C string arguments of our imports, which take <c>byte*</c>: ReadyToRun precompiles an
/// import with nothing to marshal, where a <c>string</c> parameter needs a stub the JIT compiles. Short strings go on
/// the caller's stack, as the runtime's UTF-8 marshaller does, so a <c>dlsym</c> or an <c>open</c> allocates nothing.
/// </summary>
internal static class CString
{
    /// <summary>The stack buffer callers pass: names and most paths fit.</summary>
    public const int StackBytes = 256;

    /// <summary>
    /// <paramref name="s"/> as UTF-8 with a terminating NUL, in <paramref name="scratch"/> when it fits, else in a new
    /// array. An embedded NUL ends the string for C, as it does with the runtime's marshaller.
    /// </summary>
    public static ReadOnlySpan<byte> Utf8(string s, Span<byte> scratch)
    {
        // The worst case is cheap to compute; the exact count is only needed when the worst case does not fit.
        int needed = Encoding.UTF8.GetMaxByteCount(s.Length) + 1;
        if (needed > scratch.Length)
            needed = Encoding.UTF8.GetByteCount(s) + 1;
        Span<byte> buffer = needed <= scratch.Length ? scratch : new byte[needed];
        int length = Encoding.UTF8.GetBytes(s, buffer);
        buffer[length] = 0;
        return buffer[..(length + 1)];
    }
}
