namespace Loader;

/// <summary>
/// A refusal that points at one field of an ELF file: the message reads <c>file: field at offset 0x…: detail</c>,
/// and the three parts are also properties, for callers that want them without parsing the message.
/// </summary>
public abstract class ElfFieldException : LoaderException
{
    /// <summary>Creates the exception; the message becomes <c>file: field at offset 0x…: detail</c>.</summary>
    protected ElfFieldException(string fileName, string field, ulong offset, string detail)
        : base(FieldMessage(fileName, field, offset, detail), fileName, inner: null)
    {
        Field = field;
        Offset = offset;
    }

    /// <summary>The ELF field or table concerned, spelled as in the ELF specification (<c>e_phoff</c>, <c>DT_STRTAB</c>).</summary>
    public string Field { get; }

    /// <summary>The byte offset in the file (or the virtual address, for dynamic-table values) of the field.</summary>
    public ulong Offset { get; }
}
