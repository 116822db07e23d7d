namespace Loader;

/// <summary>
/// A file is not a well-formed ELF object, or holds a value this reader refuses to follow.
/// The message names the file, the field and the byte offset (or virtual address) of the problem.
/// </summary>
public sealed class ElfFormatException : LoaderException
{
    /// <summary>Creates the exception; the message becomes <c>file: field at offset 0x…: detail</c>.</summary>
    public ElfFormatException(string fileName, string field, ulong offset, string detail)
        : base($"{fileName}: {field} at offset 0x{offset:x}: {detail}")
    {
        FileName = fileName;
        Field = field;
        Offset = offset;
    }

    /// <summary>The file (or image name) being read.</summary>
    public string FileName { get; }

    /// <summary>The ELF field or table that was wrong, spelled as in the ELF specification (<c>e_phoff</c>, <c>DT_STRTAB</c>).</summary>
    public string Field { get; }

    /// <summary>The byte offset in the file (or the virtual address, for dynamic-table values) where the problem lies.</summary>
    public ulong Offset { get; }
}
