namespace Loader;

/// <summary>
/// A well-formed ELF file this loader cannot run here: not ELFCLASS64, not little-endian, not EM_X86_64, not
/// ET_DYN, or a DF_1_PIE executable. The message names the file, the field and its offset in the file.
/// </summary>
public sealed class UnsupportedElfException : ElfFieldException
{
    /// <summary>Creates the exception; the message becomes <c>file: field at offset 0x…: detail</c>.</summary>
    public UnsupportedElfException(string fileName, string field, ulong offset, string detail)
        : base(fileName, field, offset, detail) { }
}
