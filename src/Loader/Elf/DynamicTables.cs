namespace Loader.Elf;

/// <summary>
/// Everything a loader finds from the dynamic section: the string table, the symbol table and its count,
/// versions, the GNU and SysV hash tables, the REL/RELA/JMPREL tables and DT_RELR. It reads through a
/// <see cref="VirtualView"/>, so the same code reads a file on disk and a mapped image
/// (docs/architecture.md, "One reader, three views"). Locations, hash-chain extents, version chains,
/// relocation symbol indices and the RELR stream are checked here; names are checked when read.
/// </summary>
public sealed class DynamicTables
{
    // DT_RELA, DT_REL and DT_JMPREL are read and checked here, then read again from it when asked for (as values by the
    // relocator, as objects by RelocationTables): an image keeps no object for them.
    private readonly DynamicSection _dynamic;

    /// <summary>
    /// Finds every table <paramref name="dyn"/> points to, through <paramref name="view"/>. The symbol count comes
    /// from <paramref name="symbolCountHint"/> (a .dynsym section) when given, else DT_GNU_HASH, else DT_HASH's nchain.
    /// </summary>
    public static DynamicTables Read(VirtualView view, DynamicSection dyn, ElfEncoding enc, int? symbolCountHint = null) =>
        new(view, dyn, enc, symbolCountHint, gnuHash: null);

    /// <summary><see cref="Read(VirtualView, DynamicSection, ElfEncoding, int?)"/> with DT_GNU_HASH already read
    /// through the same view (the mapped image reads it first, for its symbol count). With
    /// <c>relocatorChecksRela64</c> (an image mapped to be relocated at once) an ELF64 little-endian Elf64_Rela table's
    /// symbol indices are left to the relocator's pass, which checks each entry as it reads it (the same refusal, in the
    /// same words), so that table is read once instead of twice; the others are checked here.</summary>
    internal static DynamicTables ReadWithGnuHash(VirtualView view, DynamicSection dyn, ElfEncoding enc, int? symbolCountHint,
        GnuHashTable? gnuHash, bool relocatorChecksRela64 = false) =>
        new(view, dyn, enc, symbolCountHint, gnuHash, relocatorChecksRela64);

    private DynamicTables(VirtualView view, DynamicSection dyn, ElfEncoding enc, int? symbolCountHint, GnuHashTable? gnuHash,
        bool relocatorChecksRela64 = false)
    {
        View = view;
        Encoding = enc;
        _dynamic = dyn;

        if (dyn.TryGet(DynamicTag.StrTab, out ulong strtab))
        {
            if (!dyn.TryGet(DynamicTag.StrSz, out ulong strsz))
                ThrowHelper.Format(Name, "DT_STRSZ", dyn.Address, "DT_STRTAB is present but DT_STRSZ is missing");
            View.TryGetFileOffset(strtab, out ulong strtabOffset);
            _strings = View.Read(strtab, strsz, "DT_STRTAB");
            _stringsFileOffset = strtabOffset;
        }
        else if (dyn.Has(DynamicTag.SymTab) || dyn.Has(DynamicTag.Needed) || dyn.Has(DynamicTag.SoName)
            || dyn.Has(DynamicTag.RunPath) || dyn.Has(DynamicTag.RPath))
        {
            ThrowHelper.Format(Name, "DT_STRTAB", dyn.Address, "the dynamic section names strings but has no DT_STRTAB");
        }

        // Sonames are named again by every library that needs them: those strings are the process's one copy.
        SoName = dyn.TryGet(DynamicTag.SoName, out ulong soname) ? InternedNames.Get(DynamicStringBytes(soname, "DT_SONAME", dyn)) : null;
        // Checked now, made into strings when asked for (once per load, by the library search; rarely present).
        if (dyn.TryGet(DynamicTag.RunPath, out ulong runpath))
            DynamicStringBytes(runpath, "DT_RUNPATH", dyn);
        if (dyn.TryGet(DynamicTag.RPath, out ulong rpath))
            DynamicStringBytes(rpath, "DT_RPATH", dyn);
        // Checked now, made into strings when asked for (once per load, by the dependency search): an image keeps no list.
        for (int i = 0; i < dyn.Count; i++)
            if (dyn[i] is { Tag: DynamicTag.Needed } needed)
                DynamicStringBytes(needed.Value, "DT_NEEDED", dyn);

        if (gnuHash is not null)
            GnuHash = gnuHash;
        else if (dyn.TryGet(DynamicTag.GnuHash, out ulong gnuHashAddress))
            GnuHash = GnuHashTable.Read(View, gnuHashAddress, enc);
        if (dyn.TryGet(DynamicTag.Hash, out ulong sysvHash))
            SysvHash = SysvHashTable.Read(View, sysvHash, enc);

        if (dyn.TryGet(DynamicTag.SymTab, out ulong symtab))
        {
            int entrySize = ElfSymbol.SizeFor(enc.Class);
            if (dyn.TryGet(DynamicTag.SymEnt, out ulong syment) && syment != (ulong)entrySize)
                ThrowHelper.Format(Name, "DT_SYMENT", dyn.Address, $"{syment} does not match sizeof(Elf_Sym) = {entrySize}");
            int count = symbolCountHint ?? GnuHash?.SymbolCount ?? (int)Math.Min(SysvHash?.ChainCount ?? 0, int.MaxValue);
            var bytes = View.Read(symtab, (ulong)count * (ulong)entrySize, "DT_SYMTAB");
            Symbols = new SymbolTable(bytes, count, enc, this, symtab);
            if (dyn.Has(DynamicTag.VerSym) || dyn.Has(DynamicTag.VerDef) || dyn.Has(DynamicTag.VerNeed))
                Versions = SymbolVersionTable.Read(this, count);
        }

        ReadRelocations(dyn, readRelr: true, checkSymbolIndices: true, skipRela64: relocatorChecksRela64);
    }

    /// <summary>A d_val string, checked against DT_STRSZ before it is narrowed to 32 bits.</summary>
    private string DynamicString(ulong offset, string tag, DynamicSection dyn) =>
        System.Text.Encoding.UTF8.GetString(DynamicStringBytes(offset, tag, dyn));

    /// <summary>A d_val string offset's bytes, checked against DT_STRSZ before it is narrowed to 32 bits.</summary>
    private ReadOnlySpan<byte> DynamicStringBytes(ulong offset, string tag, DynamicSection dyn)
    {
        if (offset >= (ulong)Strings.Length)
            ThrowHelper.Format(Name, tag, dyn.Address, $"string offset 0x{offset:x} is past the end of the 0x{Strings.Length:x}-byte DT_STRTAB");
        return Strings.GetBytes((uint)offset);
    }

    /// <summary>The view the tables were read through.</summary>
    public VirtualView View { get; }

    /// <summary>The dynamic section the tables were found from.</summary>
    internal DynamicSection Dynamic => _dynamic;
    /// <summary>The class and byte order.</summary>
    public ElfEncoding Encoding { get; }
    /// <summary>The file or image name used in messages.</summary>
    public string Name => View.FileName;
    /// <summary>DT_STRTAB.</summary>
    public StringTable Strings => new(_strings, Name, "DT_STRTAB", _stringsFileOffset);

    /// <summary>DT_STRTAB's bytes, for a prefetch (no bounds or terminator to check).</summary>
    internal ReadOnlySpan<byte> StringBytes => _strings.Span;

    // DT_STRTAB's bytes and file offset: the StringTable is made from them when asked for (a value; the file name and
    // the table's name are the same for every image, and an image keeps its tables while it is loaded).
    private readonly TableBytes _strings;
    private readonly ulong _stringsFileOffset;
    /// <summary>DT_SYMTAB with its count, or null.</summary>
    public SymbolTable? Symbols { get; }
    /// <summary>DT_VERSYM/DT_VERDEF/DT_VERNEED, or null.</summary>
    public SymbolVersionTable? Versions { get; }
    /// <summary>DT_GNU_HASH, or null.</summary>
    public GnuHashTable? GnuHash { get; }
    /// <summary>DT_HASH, or null.</summary>
    public SysvHashTable? SysvHash { get; }
    /// <summary>DT_RELA or DT_REL, then DT_JMPREL (unless it lies inside the former): read again each time from where
    /// the dynamic section says (checked when the tables were read, and again now, symbol indices included).</summary>
    public IReadOnlyList<RelocationTable> RelocationTables
    {
        get
        {
            var set = ReadRelocations(_dynamic, readRelr: false, checkSymbolIndices: true);
            var tables = new RelocationTable[set.Count];
            for (int i = 0; i < tables.Length; i++)
                tables[i] = new RelocationTable(set[i]);
            return tables;
        }
    }

    /// <summary>The same tables as values, for the relocator: no object, and no second pass over the symbol indices
    /// (the relocator checks each one where it uses it, since a table in writable memory can change under it).</summary>
    internal RelocationTableSet ReadRelocationTables() => ReadRelocations(_dynamic, readRelr: false, checkSymbolIndices: false);
    /// <summary>DT_RELR, or null.</summary>
    public RelrTable? Relr { get; private set; }
    /// <summary>DT_SONAME, or null.</summary>
    public string? SoName { get; }
    /// <summary>Every DT_NEEDED, in order (made when asked: an image keeps the dynamic section, not a list).</summary>
    public IReadOnlyList<string> Needed
    {
        get
        {
            int count = NeededCount;
            if (count == 0)
                return [];
            var names = new string[count];
            for (int i = 0, n = 0; i < _dynamic.Count; i++)
                if (_dynamic[i] is { Tag: DynamicTag.Needed } needed)
                    names[n++] = InternedNames.Get(DynamicStringBytes(needed.Value, "DT_NEEDED", _dynamic));
            return names;
        }
    }

    /// <summary>How many DT_NEEDED entries there are (<see cref="Needed"/>'s count, without making the names).</summary>
    internal int NeededCount
    {
        get
        {
            int count = 0;
            for (int i = 0; i < _dynamic.Count; i++)
                if (_dynamic[i].Tag == DynamicTag.Needed)
                    count++;
            return count;
        }
    }
    /// <summary>DT_RUNPATH, or null (a new string each time it is asked for).</summary>
    public string? RunPath => _dynamic.TryGet(DynamicTag.RunPath, out ulong offset) ? DynamicString(offset, "DT_RUNPATH", _dynamic) : null;
    /// <summary>DT_RPATH, or null (a new string each time it is asked for).</summary>
    public string? RPath => _dynamic.TryGet(DynamicTag.RPath, out ulong offset) ? DynamicString(offset, "DT_RPATH", _dynamic) : null;

    /// <summary>The version of dynamic symbol <paramref name="index"/>, or none.</summary>
    public SymbolVersion GetSymbolVersion(int index) =>
        Versions is null || Symbols is null ? SymbolVersion.None : Versions.Get(index, !Symbols[index].IsUndefined);

    /// <summary>
    /// Finds a defined dynamic symbol by name through DT_GNU_HASH (Bloom filter first), else DT_HASH, as a loader
    /// does; returns its index or -1. Versions are not considered here.
    /// </summary>
    public int FindDefinedSymbol(string name)
    {
        if (Symbols is not { } symbols)
            return -1;
        var nameBytes = System.Text.Encoding.UTF8.GetBytes(name);
        bool Matches(int i) => !symbols[i].IsUndefined && symbols.GetNameBytes(i).SequenceEqual(nameBytes);
        if (GnuHash is { } gnu)
            return gnu.Find(GnuHashTable.Hash(nameBytes), Matches);
        if (SysvHash is { } sysv)
            return sysv.Find(SysvHashTable.Hash(nameBytes), Matches);
        for (int i = 1; i < symbols.Count; i++)
            if (Matches(i))
                return i;
        return -1;
    }

    /// <summary>The REL/RELA/JMPREL tables, checked (their symbol indices against DT_SYMTAB when
    /// <paramref name="checkSymbolIndices"/>); DT_RELR too (<see cref="Relr"/>) the first time, when
    /// <paramref name="readRelr"/>.</summary>
    private RelocationTableSet ReadRelocations(DynamicSection dyn, bool readRelr, bool checkSymbolIndices, bool skipRela64 = false)
    {
        var rela = ReadRelocationTable(dyn, DynamicTag.Rela, DynamicTag.RelaSz, DynamicTag.RelaEnt, RelocationFormat.Rela, "DT_RELA");
        var rel = ReadRelocationTable(dyn, DynamicTag.Rel, DynamicTag.RelSz, DynamicTag.RelEnt, RelocationFormat.Rel, "DT_REL");
        RelocationTableData? plt = null;

        if (dyn.TryGet(DynamicTag.JmpRel, out ulong jmprel))
        {
            ulong pltrel = dyn.Get(DynamicTag.PltRel) ?? (ulong)DynamicTag.Rela;
            if (pltrel != (ulong)DynamicTag.Rela && pltrel != (ulong)DynamicTag.Rel)
                ThrowHelper.Format(Name, "DT_PLTREL", dyn.Address, $"{pltrel} is neither DT_RELA (7) nor DT_REL (17)");
            var format = pltrel == (ulong)DynamicTag.Rela ? RelocationFormat.Rela : RelocationFormat.Rel;
            ulong size = dyn.Get(DynamicTag.PltRelSz) ?? 0;
            var enclosing = format == RelocationFormat.Rela ? rela : rel;
            // Some linkers let DT_RELASZ cover .rela.plt too; glibc then skips the overlap (dynamic-link.h).
            bool inside = enclosing is { } e && jmprel >= e.Address
                && jmprel + size <= e.Address + (ulong)(e.Count * e.EntrySize);
            if (!inside && size > 0)
            {
                int entrySize = RelocationTable.StandardEntrySize(format, Encoding.Class);
                plt = new RelocationTableData("DT_JMPREL", format, jmprel, View.Read(jmprel, size - size % (ulong)entrySize, "DT_JMPREL"), entrySize, Encoding);
            }
        }

        if (readRelr && dyn.TryGet(DynamicTag.Relr, out ulong relr))
        {
            ulong size = dyn.Get(DynamicTag.RelrSz) ?? 0;
            ulong ent = dyn.Get(DynamicTag.RelrEnt) ?? (ulong)Encoding.WordSize;
            if (ent != (ulong)Encoding.WordSize)
                ThrowHelper.Format(Name, "DT_RELRENT", dyn.Address, $"{ent} does not match the word size {Encoding.WordSize}");
            if (size % ent != 0)
                ThrowHelper.Format(Name, "DT_RELRSZ", dyn.Address, $"0x{size:x} is not a multiple of DT_RELRENT {ent}");
            Relr = new RelrTable(relr, View.Read(relr, size, "DT_RELR"), Encoding, Name);
            var check = new RelrTable.NoVisitor();
            Relr.ForEachAddress(ref check);
        }

        var tables = new RelocationTableSet();
        if (rela is { } a)
            tables.Add(a);
        if (rel is { } r)
            tables.Add(r);
        if (plt is { } p)
            tables.Add(p);
        if (checkSymbolIndices)
        {
            int symbolCount = Symbols?.Count ?? 0;
            for (int t = 0; t < tables.Count; t++)
            {
                var table = tables[t];
                if (skipRela64 && table.IsRela64LittleEndian)
                    continue;
                int i = table.FindSymbolIndexPast(symbolCount);
                if (i >= 0)
                    RelocationTableData.ThrowSymbolIndexPast(Name, table, i, table[i].SymbolIndex, symbolCount);
            }
        }
        return tables;
    }

    private RelocationTableData? ReadRelocationTable(DynamicSection dyn, DynamicTag addressTag, DynamicTag sizeTag, DynamicTag entryTag, RelocationFormat format, string name)
    {
        if (!dyn.TryGet(addressTag, out ulong address))
            return null;
        ulong size = dyn.Get(sizeTag) ?? 0;
        int standard = RelocationTable.StandardEntrySize(format, Encoding.Class);
        ulong entrySize = dyn.Get(entryTag) ?? (ulong)standard;
        if (entrySize != (ulong)standard)
            ThrowHelper.Format(Name, name + "ENT", dyn.Address, $"{entrySize} does not match the {standard}-byte entry");
        if (size % entrySize != 0)
            ThrowHelper.Format(Name, name + "SZ", dyn.Address, $"0x{size:x} is not a multiple of the {entrySize}-byte entry");
        return new RelocationTableData(name, format, address, View.Read(address, size, name), standard, Encoding);
    }
}
