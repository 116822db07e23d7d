namespace Loader.Elf;

/// <summary>
/// A relocation table as a value: what <see cref="RelocationTable"/> shows, without an object. The relocator reads
/// the tables as these (<see cref="DynamicTables.ReadRelocationTables"/>), so a load makes no object for them.
/// </summary>
internal readonly struct RelocationTableData
{
    private readonly TableBytes _bytes;
    private readonly ElfEncoding _enc;

    public RelocationTableData(string name, RelocationFormat format, ulong address, ReadOnlyMemory<byte> bytes, int entrySize, ElfEncoding enc)
    {
        Name = name;
        Format = format;
        Address = address;
        _bytes = bytes;
        EntrySize = entrySize;
        _enc = enc;
        Count = bytes.Length / entrySize;
    }

    public string Name { get; }
    public RelocationFormat Format { get; }
    public ulong Address { get; }
    public int EntrySize { get; }
    public int Count { get; }

    /// <summary>The relocation at <paramref name="index"/>.</summary>
    public Relocation this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
            var s = _bytes.Span.Slice(index * EntrySize, EntrySize);
            ulong offset = _enc.Word(s, 0);
            ulong info = _enc.Word(s, _enc.WordSize);
            long addend = Format == RelocationFormat.Rela ? _enc.SignedWord(s, 2 * _enc.WordSize) : 0;
            return _enc.Is64
                ? new Relocation(offset, info, (uint)info, (uint)(info >> 32), addend, Format == RelocationFormat.Rela)
                : new Relocation(offset, info, (uint)(info & 0xff), (uint)(info >> 8), addend, Format == RelocationFormat.Rela);
        }
    }

    /// <summary>True for the layout the relocator's fast path reads in place: ELF64 little-endian Elf64_Rela entries.</summary>
    public bool IsRela64LittleEndian =>
        Format == RelocationFormat.Rela && _enc.Is64 && _enc.Data == ElfData.LittleEndian && EntrySize == Rela64Size;

    /// <summary>The size of an Elf64_Rela: r_offset, r_info, r_addend.</summary>
    public const int Rela64Size = 24;

    /// <summary>The entries' bytes as stored (for <see cref="IsRela64LittleEndian"/> tables: 24 bytes each).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes.Span;

    /// <summary>
    /// The index of the first entry whose symbol index is neither 0 nor below <paramref name="symbolCount"/>, or -1: one
    /// pass over the stored r_info words, without decoding whole entries.
    /// </summary>
    public int FindSymbolIndexPast(int symbolCount)
    {
        if (IsRela64LittleEndian)
            return FindSymbolIndexPastRela64(symbolCount);
        var s = _bytes.Span;
        int w = _enc.WordSize;
        for (int i = 0, at = w; i < Count; i++, at += EntrySize)
        {
            ulong info = _enc.Word(s, at);
            uint sym = _enc.Is64 ? (uint)(info >> 32) : (uint)(info >> 8);
            if (sym != 0 && sym >= (uint)symbolCount)
                return i;
        }
        return -1;
    }

    /// <summary>The refusal of relocation <paramref name="index"/>, whose symbol index lies past DT_SYMTAB's
    /// <paramref name="symbolCount"/> entries: the reader's, and the relocator's for a table it checks as it goes.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void ThrowSymbolIndexPast(string fileName, in RelocationTableData table, int index, uint symbolIndex, int symbolCount) =>
        ThrowHelper.Format(fileName, $"{table.Name} r_info", table.Address + (ulong)index * (ulong)table.EntrySize,
            $"relocation {index} refers to symbol index {symbolIndex}, past the {symbolCount}-entry DT_SYMTAB");

    // The same pass over ELF64 little-endian Elf64_Rela entries as words (r_offset, r_info, r_addend): r_info's high
    // half is the symbol index. A large library's table is a megabyte (libpfm: 41,274 entries), read once here.
    private int FindSymbolIndexPastRela64(int symbolCount)
    {
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(_bytes.Span);
        for (int entry = 0, i = 1; entry < Count; entry++, i += 3)
        {
            uint sym = (uint)(words[i] >> 32);
            if (sym != 0 && sym >= (uint)symbolCount)
                return entry;
        }
        return -1;
    }
}

/// <summary>The relocation tables of one image, as values, in the relocator's order: DT_RELA or DT_REL, then
/// DT_JMPREL (at most three; fields, not an array, so a load allocates nothing for them).</summary>
internal struct RelocationTableSet
{
    private RelocationTableData _first, _second, _third;

    /// <summary>How many tables there are.</summary>
    public int Count { get; private set; }

    public void Add(in RelocationTableData table)
    {
        switch (Count)
        {
            case 0: _first = table; break;
            case 1: _second = table; break;
            default: _third = table; break;
        }
        Count++;
    }

    /// <summary>Table <paramref name="index"/> (0-based).</summary>
    public readonly RelocationTableData this[int index] => index switch
    {
        0 when Count > 0 => _first,
        1 when Count > 1 => _second,
        2 when Count > 2 => _third,
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };
}
