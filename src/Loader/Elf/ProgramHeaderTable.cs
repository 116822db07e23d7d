using System.Collections;

namespace Loader.Elf;

/// <summary>
/// The program headers, read where they lie (the file's bytes, the mapper's header buffer, or the mapped image's first
/// page): each entry is decoded when it is indexed, so a loaded image keeps no copy of them. The bytes were checked
/// (count, entry size, range) by <see cref="HeaderTables.ReadProgramHeaders"/>.
/// </summary>
internal sealed class ProgramHeaderTable : IReadOnlyList<ProgramHeader>
{
    // As a TableBytes: an image's table lies in its mapped first page, and a ReadOnlyMemory over it would make each
    // entry read a virtual call for its span.
    private readonly TableBytes _bytes;
    private readonly ElfEncoding _encoding;
    private readonly int _entrySize;
    // Every entry decoded once (DecodeEntries), for a table a load indexes dozens of times while it plans and maps.
    private ProgramHeader[]? _decoded;

    public ProgramHeaderTable(ReadOnlyMemory<byte> bytes, int count, ElfEncoding encoding)
    {
        _encoding = encoding;
        _entrySize = ProgramHeader.SizeFor(encoding.Class);
        if ((ulong)count * (ulong)_entrySize > (ulong)bytes.Length)
            throw new ArgumentOutOfRangeException(nameof(count), $"{count} program headers do not fit in {bytes.Length} bytes");
        _bytes = bytes;
        Count = count;
    }

    public static ProgramHeaderTable Empty { get; } = new(ReadOnlyMemory<byte>.Empty, 0, new ElfEncoding(ElfClass.Elf64, ElfData.LittleEndian));

    public int Count { get; }

    public ProgramHeader this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            if (_decoded is { } decoded)
                return decoded[index];
            return ProgramHeader.Read(_bytes.Span.Slice(index * _entrySize, _entrySize), _encoding);
        }
    }

    /// <summary>
    /// Decodes every entry now into <paramref name="into"/> (at least <see cref="Count"/> long) and answers from it from
    /// then on: for the mapper's table, which the plan, the checks and the mapping index about eight times an entry,
    /// and which lives no longer than the pooled buffer its bytes are in (the mapper rents <paramref name="into"/> from
    /// the same pool and returns both together). A table an image keeps decodes each entry when asked: no copy.
    /// </summary>
    internal void DecodeEntries(ProgramHeader[] into)
    {
        if (into.Length < Count)
            throw new ArgumentException($"{into.Length} entries cannot hold {Count} program headers", nameof(into));
        var bytes = _bytes.Span;
        for (int i = 0; i < Count; i++)
            into[i] = ProgramHeader.Read(bytes.Slice(i * _entrySize, _entrySize), _encoding);
        _decoded = into;
    }

    /// <summary>The same headers over other bytes holding the same table (the mapped image's copy of it).</summary>
    public ProgramHeaderTable Over(ReadOnlyMemory<byte> bytes) => new(bytes, Count, _encoding);

    /// <summary>The size of the table in bytes.</summary>
    public int ByteLength => Count * _entrySize;

    /// <summary>A copy of the headers, for when the bytes they lie in go away.</summary>
    public ProgramHeader[] ToArray()
    {
        var result = new ProgramHeader[Count];
        for (int i = 0; i < result.Length; i++)
            result[i] = this[i];
        return result;
    }

    public IEnumerator<ProgramHeader> GetEnumerator()
    {
        for (int i = 0; i < Count; i++)
            yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
