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
        if (TryBytesAt(span, offset, out var bytes) || (offset == 0 && span.Length == 0))
            return bytes;
        if (offset >= (uint)span.Length)
            ThrowHelper.Format(_fileName, _tableName, _baseOffset + offset,
                $"string offset 0x{offset:x} is past the end of the 0x{span.Length:x}-byte table");
        return ThrowHelper.Format<ReadOnlySpan<byte>>(_fileName, _tableName, _baseOffset + offset,
            $"string at table offset 0x{offset:x} has no NUL terminator before the end of the table");
    }

    /// <summary>The string at <paramref name="offset"/> of <paramref name="table"/> (a string table's bytes), without
    /// its terminator; false for an offset past the table or a string with no terminator before its end (the caller
    /// refuses those as <see cref="GetBytes"/> does).</summary>
    internal static bool TryBytesAt(ReadOnlySpan<byte> table, uint offset, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (offset >= (uint)table.Length)
            return false;
        var rest = table[(int)offset..];
        int end = rest.IndexOf((byte)0);
        if (end < 0)
            return false;
        bytes = rest[..end];
        return true;
    }

    /// <summary>
    /// <see cref="TryBytesAt"/> and the string's GNU hash (<see cref="GnuHashTable.Hash(ReadOnlySpan{byte})"/>) in one
    /// pass: the terminator is looked for four bytes at a time while they are hashed, instead of a search for it and
    /// then a second pass to hash (the relocator does both for every symbol it looks up).
    /// </summary>
    internal static bool TryHashedBytesAt(ReadOnlySpan<byte> table, uint offset, out ReadOnlySpan<byte> bytes, out uint gnuHash)
    {
        bytes = default;
        gnuHash = 0;
        if (offset >= (uint)table.Length)
            return false;
        var rest = table[(int)offset..];
        uint h = GnuHashTable.Seed;
        int i = 0;
        for (; i + 4 <= rest.Length; i += 4)
        {
            uint word = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(rest[i..]);
            if (((word - 0x0101_0101u) & ~word & 0x8080_8080u) != 0)
                break; // a NUL among these four: found byte by byte below
            h = GnuHashTable.StepFour(h, word & 0xff, (word >> 8) & 0xff, (word >> 16) & 0xff, word >> 24);
        }
        for (; i < rest.Length; i++)
        {
            byte c = rest[i];
            if (c == 0)
            {
                bytes = rest[..i];
                gnuHash = h;
                return true;
            }
            h = h * 33 + c;
        }
        return false;
    }

    /// <summary>Whether <paramref name="table"/> (a string table's bytes) holds <paramref name="name"/> (ASCII, no NUL)
    /// at <paramref name="offset"/>, terminated there; false for anything else, a bad offset included (the caller
    /// refuses those as <see cref="GetBytes"/> does).</summary>
    internal static bool IsAsciiAt(ReadOnlySpan<byte> table, uint offset, ReadOnlySpan<char> name) =>
        (ulong)offset + (ulong)name.Length < (ulong)table.Length && table[(int)offset + name.Length] == 0
        && Ascii.Equals(table.Slice((int)offset, name.Length), name);

    /// <summary><see cref="IsAsciiAt"/> for UTF-8 bytes.</summary>
    internal static bool IsBytesAt(ReadOnlySpan<byte> table, uint offset, ReadOnlySpan<byte> name) =>
        (ulong)offset + (ulong)name.Length < (ulong)table.Length && table[(int)offset + name.Length] == 0
        && table.Slice((int)offset, name.Length).SequenceEqual(name);

    /// <summary>The string at <paramref name="offset"/>.</summary>
    public string GetString(uint offset) => Encoding.UTF8.GetString(GetBytes(offset));
}
