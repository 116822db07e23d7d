using System.Text;

namespace Loader.Cli.Rendering;

/// <summary>
/// The bytes of a <c>buf:N</c> argument after a call, for people: as hex (what <c>sha256sum</c> prints for a digest),
/// and as text up to the first NUL (what a function that writes a C string leaves), escaped as a C string literal.
/// </summary>
internal static class BufferText
{
    /// <summary>Every byte as two lower-case hex digits, no separators.</summary>
    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>The bytes before the first NUL, escaped as C escapes them: <c>\n</c>, <c>\"</c>, <c>\x9e</c>.</summary>
    public static string Text(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.IndexOf((byte)0);
        var text = new StringBuilder();
        foreach (byte b in end < 0 ? bytes : bytes[..end])
        {
            text.Append(b switch
            {
                (byte)'\n' => "\\n",
                (byte)'\t' => "\\t",
                (byte)'\r' => "\\r",
                (byte)'"' => "\\\"",
                (byte)'\\' => "\\\\",
                >= 0x20 and < 0x7f => ((char)b).ToString(),
                _ => $"\\x{b:x2}",
            });
        }
        return text.ToString();
    }
}
