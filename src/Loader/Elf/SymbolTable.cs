namespace Loader.Elf;

/// <summary>The dynamic symbol table, read in place: each symbol is decoded when asked for.</summary>
public sealed class SymbolTable
{
    private readonly TableBytes _bytes;
    private readonly ElfEncoding _enc;
    // The tables this one belongs to, for their string table and file name: one copy of each per image, which keeps
    // its tables for as long as it is loaded (docs/benchmarks.md, "Memory held").
    private readonly DynamicTables _tables;

    internal SymbolTable(ReadOnlyMemory<byte> bytes, int count, ElfEncoding enc, DynamicTables tables, ulong address)
    {
        _bytes = bytes;
        Count = count;
        _enc = enc;
        _tables = tables;
        Address = address;
    }

    /// <summary>The number of symbols, including the null symbol at index 0.</summary>
    public int Count { get; }

    /// <summary>The virtual address of the table (DT_SYMTAB).</summary>
    public ulong Address { get; }

    /// <summary>The string table the names index (DT_STRTAB).</summary>
    public StringTable Strings => _tables.Strings;

    /// <summary>The symbol at <paramref name="index"/>; an index past the table is an <see cref="ElfFormatException"/>.</summary>
    public ElfSymbol this[int index] => ElfSymbol.Read(EntryBytes(index, "symbol index"), _enc);

    /// <summary>Like the indexer, naming <paramref name="referrer"/> (e.g. a relocation) in the error.</summary>
    public ElfSymbol Get(uint index, string referrer) => ElfSymbol.Read(EntryBytes(index, referrer), _enc);

    /// <summary>The size of one entry: 24 (Elf64_Sym) or 16 (Elf32_Sym).</summary>
    internal int EntrySize => ElfSymbol.SizeFor(_enc.Class); // sizeof(Elf_Sym) of the class, not a field of its own

    /// <summary>Starts bringing symbol <paramref name="index"/>'s entry into the cache (nothing for an index past the
    /// table): the relocator does, a few relocations ahead of the lookup that will read it.</summary>
    internal void PrefetchEntry(uint index) =>
        Native.CachePrefetch.Line(_bytes.Span, (ulong)index * (uint)EntrySize);

    /// <summary>Starts bringing symbol <paramref name="index"/>'s name into the cache: reads its <c>st_name</c> (the
    /// first field in both classes; an entry <see cref="PrefetchEntry"/> asked for earlier) and prefetches the string
    /// there (nothing for an index or a name offset past its table).</summary>
    internal void PrefetchName(uint index)
    {
        var entries = _bytes.Span;
        ulong at = (ulong)index * (uint)EntrySize;
        if (at + 4 <= (ulong)entries.Length)
            Native.CachePrefetch.Line(_tables.StringBytes, _enc.U32(entries, (int)at));
    }

    /// <summary>The raw entries (Count × the entry size), for a reader that decodes the fields it needs itself.</summary>
    internal ReadOnlySpan<byte> Entries => _bytes.Span;

    /// <summary>
    /// Whether the name at <paramref name="nameOffset"/> of the string table is <paramref name="name"/>, an ASCII name
    /// without NUL, compared byte to char where it lies (no NUL scan, no transcoding, no string-table descriptor). Not
    /// this name — the string ends elsewhere or differs: a hash collision, so rare that the general path's checks cost
    /// nothing — and a bad offset or an unterminated string is refused as <see cref="StringTable.GetBytes"/> refuses it.
    /// </summary>
    internal bool NameEqualsAscii(uint nameOffset, ReadOnlySpan<char> name)
    {
        if (StringTable.IsAsciiAt(_tables.StringBytes, nameOffset, name))
            return true;
        NameBytesAt(nameOffset); // not this name: a bad offset or an unterminated string is refused all the same
        return false;
    }

    /// <summary><see cref="NameEqualsAscii"/> for a name in UTF-8 bytes (no NUL).</summary>
    internal bool NameEqualsBytes(uint nameOffset, ReadOnlySpan<byte> name)
    {
        if (StringTable.IsBytesAt(_tables.StringBytes, nameOffset, name))
            return true;
        NameBytesAt(nameOffset);
        return false;
    }

    /// <summary>
    /// The string at <paramref name="nameOffset"/> of the string table (a symbol's <c>st_name</c>) as UTF-8 bytes, no
    /// copy: <see cref="StringTable.GetBytes"/> without making the table's descriptor first (the relocator asks once
    /// per symbol it resolves; its frame zeroes every struct with a reference in it). A bad offset or an unterminated
    /// string is refused as <see cref="StringTable.GetBytes"/> refuses it.
    /// </summary>
    internal ReadOnlySpan<byte> NameBytesAt(uint nameOffset) =>
        StringTable.TryBytesAt(_tables.StringBytes, nameOffset, out var name) ? name : NameBytesRefused(nameOffset);

    /// <summary><see cref="NameBytesAt(uint)"/> with the name's GNU hash, found in the same pass over its bytes.</summary>
    internal ReadOnlySpan<byte> NameBytesAt(uint nameOffset, out uint gnuHash) =>
        StringTable.TryHashedBytesAt(_tables.StringBytes, nameOffset, out var name, out gnuHash) ? name : NameBytesRefused(nameOffset);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private ReadOnlySpan<byte> NameBytesRefused(uint nameOffset) => Strings.GetBytes(nameOffset);

    /// <summary>The symbol's name as UTF-8 bytes, no copy.</summary>
    public ReadOnlySpan<byte> GetNameBytes(int index) => NameBytesAt(this[index].NameOffset);

    /// <summary>The symbol's name.</summary>
    public string GetName(int index) => System.Text.Encoding.UTF8.GetString(NameBytesAt(this[index].NameOffset));

    private ReadOnlySpan<byte> EntryBytes(long index, string referrer)
    {
        if ((ulong)index >= (ulong)Count)
            ThrowPastTheEnd(index, referrer);
        int size = EntrySize;
        return _bytes.Span.Slice((int)index * size, size);
    }

    // Out of line: the message's formatting, inlined into every caller of the indexer (the relocator's per-symbol
    // path among them), would make each caller's frame larger, and the runtime zeroes it on every call.
    [System.Diagnostics.CodeAnalysis.DoesNotReturn, System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void ThrowPastTheEnd(long index, string referrer) =>
        ThrowHelper.Format(_tables.Name, referrer, Address, $"symbol index {index} is past the {Count}-entry DT_SYMTAB");
}
