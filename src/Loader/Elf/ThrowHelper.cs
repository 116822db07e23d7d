using System.Diagnostics.CodeAnalysis;

namespace Loader.Elf;

/// <summary>
/// The one place bad input becomes an exception, kept out of line so the callers' checks stay small
/// enough to inline (the pattern of System.Reflection.Metadata's <c>Throw</c>).
/// </summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void Format(string fileName, string field, ulong offset, string detail) =>
        throw new ElfFormatException(fileName, field, offset, detail);

    [DoesNotReturn]
    public static T Format<T>(string fileName, string field, ulong offset, string detail) =>
        throw new ElfFormatException(fileName, field, offset, detail);

    /// <summary>True when <c>[offset, offset + length)</c> does not fit in <paramref name="size"/>, without overflow.</summary>
    public static bool OutOfRange(ulong offset, ulong length, ulong size) =>
        offset > size || length > size - offset;
}
