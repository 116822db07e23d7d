using System.Text;

namespace Loader.Elf;

/// <summary>A string table (<c>.dynstr</c>, <c>.shstrtab</c>): NUL-terminated UTF-8 names, read in place.</summary>
public readonly struct StringTable
{
    private readonly TableBytes _bytes;
    private readonly string _fileName;
    private readonly string _tableName;
    private readonly ulong _baseOffset;

    internal StringTable(ReadOnlyMemory<byte> bytes, string fileName, string tableName, ulong baseOffset)
        : this(new TableBytes(bytes), fileName, tableName, baseOffset)
    {
    }

    internal StringTable(TableBytes bytes, string fileName, string tableName, ulong baseOffset)
    {
        _bytes = bytes;
        _fileName = fileName;
        _tableName = tableName;
        _baseOffset = baseOffset;
    }

    /// <summary>The size of the table in bytes.</summary>
    public int Length => _bytes.Length;

    /// <summary>The UTF-8 bytes of the string at <paramref name="offset"/>, without its terminator.</summary>
    public ReadOnlySpan<byte> GetBytes(uint offset)
    {
        var span = _bytes.Span;
        if (offset >= (uint)span.Length)
        {
            if (offset == 0 && span.Length == 0)
                return default;
            ThrowHelper.Format(_fileName, _tableName, _baseOffset + offset,
                $"string offset 0x{offset:x} is past the end of the 0x{span.Length:x}-byte table");
        }
        var rest = span[(int)offset..];
        int end = rest.IndexOf((byte)0);
        if (end < 0)
            ThrowHelper.Format(_fileName, _tableName, _baseOffset + offset,
                $"string at table offset 0x{offset:x} has no NUL terminator before the end of the table");
        return rest[..end];
    }

    /// <summary>
    /// Whether the string at <paramref name="offset"/> is <paramref name="name"/>, an ASCII name without NUL, compared
    /// byte to char where it lies (no NUL scan, no transcoding). A bad offset or an unterminated string is refused as
    /// <see cref="GetBytes"/> refuses it.
    /// </summary>
    internal bool EqualsAscii(uint offset, ReadOnlySpan<char> name)
    {
        var span = _bytes.Span;
        if ((ulong)offset + (ulong)name.Length < (ulong)span.Length && span[(int)offset + name.Length] == 0
            && Ascii.Equals(span.Slice((int)offset, name.Length), name))
            return true;
        // Not this name (the string ends elsewhere or differs): a hash collision, so rare that the checks of the
        // general path cost nothing.
        GetBytes(offset);
        return false;
    }

    /// <summary>Whether the string at <paramref name="offset"/> is <paramref name="name"/> (UTF-8 bytes, no NUL):
    /// compared in place, without looking for the terminator first.</summary>
    internal bool EqualsBytes(uint offset, ReadOnlySpan<byte> name)
    {
        var span = _bytes.Span;
        if ((ulong)offset + (ulong)name.Length < (ulong)span.Length && span[(int)offset + name.Length] == 0
            && span.Slice((int)offset, name.Length).SequenceEqual(name))
            return true;
        GetBytes(offset); // as EqualsAscii: a string without its terminator is refused here too
        return false;
    }

    /// <summary>The string at <paramref name="offset"/>.</summary>
    public string GetString(uint offset) => Encoding.UTF8.GetString(GetBytes(offset));
}
