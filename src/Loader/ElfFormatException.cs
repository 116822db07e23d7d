namespace Loader;

/// <summary>
/// A file is not a well-formed ELF object, or holds a value this reader refuses to follow.
/// The message names the file, the field and the byte offset (or virtual address) of the problem.
/// </summary>
public sealed class ElfFormatException : ElfFieldException
{
    /// <summary>Creates the exception; the message becomes <c>file: field at offset 0x…: detail</c>.</summary>
    public ElfFormatException(string fileName, string field, ulong offset, string detail)
        : base(fileName, field, offset, detail) { }
}
