using Loader.Native;

namespace Loader.Elf;

/// <summary>
/// An ELF object read in place: headers, segments, sections, and everything a loader finds from
/// <c>PT_DYNAMIC</c> (symbols, versions, hashes, relocations). Every offset, size, count and index is
/// checked before it is followed; a bad file is an <see cref="ElfFormatException"/> naming the file,
/// the field and the offset. Nothing is copied: tables are views over the file's bytes.
/// </summary>
public sealed class ElfFile : IDisposable
{
    private readonly IDisposable? _owner;
    private readonly ProgramHeader[] _programHeaders;
    private readonly SectionHeader[] _sections;
    private readonly List<ElfNote> _notes = [];
    private readonly List<RelocationTable> _relocationTables = [];
    private readonly List<string> _needed = [];

    private ElfFile(ReadOnlyMemory<byte> bytes, string name, IDisposable? owner)
    {
        _owner = owner;
        Name = name;
        Bytes = bytes;
        var span = bytes.Span;
        Header = ElfHeader.Read(span, name);
        Encoding = new ElfEncoding(Header.Class, Header.Data);
        _sections = ReadSectionHeaders(span);
        _programHeaders = ReadProgramHeaders(span);
        View = VirtualView.FromFile(name, bytes, _programHeaders);
        Interpreter = ReadInterpreter();
        ReadNotes();
        ReadDynamic();
    }

    /// <summary>Maps <paramref name="path"/> read-only and reads it. Dispose the result to unmap the file.</summary>
    public static ElfFile Open(string path)
    {
        var file = MappedFile.OpenReadOnly(path);
        try
        {
            return new ElfFile(file.Memory, path, file);
        }
        catch
        {
            ((IDisposable)file).Dispose();
            throw;
        }
    }

    /// <summary>Reads an ELF object held in memory; <paramref name="name"/> is used in error messages.</summary>
    public static ElfFile Parse(ReadOnlyMemory<byte> bytes, string name) => new(bytes, name, null);

    /// <summary>The path or name given when opening, used in every error message.</summary>
    public string Name { get; }
    /// <summary>The whole file.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }
    /// <summary>The file header as stored.</summary>
    public ElfHeader Header { get; }
    /// <summary>The class and byte order every field is read with.</summary>
    public ElfEncoding Encoding { get; }
    /// <summary>Virtual addresses translated to file bytes through the PT_LOADs.</summary>
    public VirtualView View { get; }
    /// <summary>The program headers (e_phnum resolved through section 0 when it is PN_XNUM).</summary>
    public IReadOnlyList<ProgramHeader> ProgramHeaders => _programHeaders;
    /// <summary>The section headers, names resolved; empty for a file without section headers.</summary>
    public IReadOnlyList<SectionHeader> Sections => _sections;
    /// <summary>The real e_phnum.</summary>
    public int ProgramHeaderCount => _programHeaders.Length;
    /// <summary>The real e_shnum.</summary>
    public int SectionCount => _sections.Length;
    /// <summary>The real e_shstrndx.</summary>
    public int SectionNameTableIndex { get; private set; }
    /// <summary>PT_INTERP's path, or null.</summary>
    public string? Interpreter { get; }
    /// <summary>The notes of every PT_NOTE segment (or SHT_NOTE section when there are no PT_NOTEs).</summary>
    public IReadOnlyList<ElfNote> Notes => _notes;
    /// <summary>The GNU build ID (NT_GNU_BUILD_ID), or empty.</summary>
    public ReadOnlyMemory<byte> BuildId { get; private set; }
    /// <summary>The dynamic section (from PT_DYNAMIC), or null for a static object.</summary>
    public DynamicSection? Dynamic { get; private set; }
    /// <summary>DT_STRTAB, or default.</summary>
    public StringTable DynamicStrings { get; private set; }
    /// <summary>DT_SYMTAB with its count, or null.</summary>
    public SymbolTable? DynamicSymbols { get; private set; }
    /// <summary>DT_VERSYM/DT_VERDEF/DT_VERNEED, or null when the object is not versioned.</summary>
    public SymbolVersionTable? Versions { get; private set; }
    /// <summary>DT_GNU_HASH, or null.</summary>
    public GnuHashTable? GnuHash { get; private set; }
    /// <summary>DT_HASH, or null.</summary>
    public SysvHashTable? SysvHash { get; private set; }
    /// <summary>The REL/RELA tables: DT_RELA or DT_REL, then DT_JMPREL (unless it lies inside the former).</summary>
    public IReadOnlyList<RelocationTable> RelocationTables => _relocationTables;
    /// <summary>DT_RELR, or null.</summary>
    public RelrTable? Relr { get; private set; }
    /// <summary>DT_SONAME, or null.</summary>
    public string? SoName { get; private set; }
    /// <summary>Every DT_NEEDED, in order.</summary>
    public IReadOnlyList<string> Needed => _needed;
    /// <summary>DT_RUNPATH, or null.</summary>
    public string? RunPath { get; private set; }
    /// <summary>DT_RPATH, or null.</summary>
    public string? RPath { get; private set; }

    /// <summary>The version of dynamic symbol <paramref name="index"/>, or none.</summary>
    public SymbolVersion GetSymbolVersion(int index) =>
        Versions is null || DynamicSymbols is null
            ? SymbolVersion.None
            : Versions.Get(index, !DynamicSymbols[index].IsUndefined);

    /// <summary>
    /// Finds a defined dynamic symbol by name through DT_GNU_HASH (Bloom filter first), else DT_HASH, as a loader
    /// does; returns its index or -1. Versions are not considered here.
    /// </summary>
    public int FindDefinedSymbol(string name)
    {
        if (DynamicSymbols is not { } symbols)
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

    /// <summary>Unmaps the file when it was opened from a path.</summary>
    public void Dispose() => _owner?.Dispose();

    private SectionHeader[] ReadSectionHeaders(ReadOnlySpan<byte> span)
    {
        ulong shoff = Header.SectionHeaderOffset;
        SectionNameTableIndex = Header.SectionNameTableIndex;
        if (shoff == 0)
            return [];
        int entrySize = SectionHeader.SizeFor(Header.Class);
        ulong shoffField = Header.Class == ElfClass.Elf64 ? 0x28UL : 0x20UL;
        if (Header.SectionHeaderEntrySize != entrySize)
            ThrowHelper.Format(Name, "e_shentsize", shoffField + (Header.Class == ElfClass.Elf64 ? 0x12UL : 0x12UL),
                $"{Header.SectionHeaderEntrySize} does not match sizeof(Elf{(Encoding.Is64 ? 64 : 32)}_Shdr) = {entrySize}");
        if (ThrowHelper.OutOfRange(shoff, (ulong)entrySize, (ulong)span.Length))
            ThrowHelper.Format(Name, "e_shoff", shoff, $"section header table at 0x{shoff:x} lies past the end of the {span.Length}-byte file");

        // Extended numbering: section 0 holds the real e_shnum (sh_size), e_shstrndx (sh_link) and e_phnum (sh_info).
        var section0 = SectionHeader.Read(span.Slice((int)shoff, entrySize), Encoding);
        ulong count = Header.SectionHeaderCount == 0 ? section0.Size : Header.SectionHeaderCount;
        if (Header.SectionNameTableIndex == ElfHeader.SHN_XINDEX)
            SectionNameTableIndex = (int)section0.Link;
        if (count == 0)
            return [];
        if (count > int.MaxValue / (ulong)entrySize || ThrowHelper.OutOfRange(shoff, count * (ulong)entrySize, (ulong)span.Length))
            ThrowHelper.Format(Name, Header.SectionHeaderCount == 0 ? "e_shnum (section 0 sh_size)" : "e_shnum", shoff,
                $"{count} section headers of {entrySize} bytes at 0x{shoff:x} run past the end of the {span.Length}-byte file");
        var sections = new SectionHeader[count];
        for (int i = 0; i < sections.Length; i++)
            sections[i] = SectionHeader.Read(span.Slice((int)shoff + i * entrySize, entrySize), Encoding);

        if (SectionNameTableIndex != 0)
        {
            if ((uint)SectionNameTableIndex >= (uint)sections.Length)
                ThrowHelper.Format(Name, "e_shstrndx", shoff, $"section index {SectionNameTableIndex} is past the {sections.Length} section headers");
            var strtab = sections[SectionNameTableIndex];
            if (strtab.Type != SectionType.NoBits && ThrowHelper.OutOfRange(strtab.Offset, strtab.Size, (ulong)span.Length))
                ThrowHelper.Format(Name, "e_shstrndx sh_offset", strtab.Offset, $"section name table of 0x{strtab.Size:x} bytes runs past the end of the file");
            var names = new StringTable(Bytes.Slice((int)strtab.Offset, (int)strtab.Size), Name, ".shstrtab", strtab.Offset);
            for (int i = 0; i < sections.Length; i++)
                sections[i] = sections[i] with { Name = names.GetString(sections[i].NameOffset) };
        }
        return sections;
    }

    private ProgramHeader[] ReadProgramHeaders(ReadOnlySpan<byte> span)
    {
        ulong count = Header.ProgramHeaderCount;
        if (count == ElfHeader.PN_XNUM)
        {
            if (_sections.Length == 0)
                ThrowHelper.Format(Name, "e_phnum", Header.Class == ElfClass.Elf64 ? 0x38UL : 0x2cUL,
                    "is PN_XNUM (0xffff) but there is no section 0 to hold the real count");
            count = _sections[0].Info;
        }
        if (count == 0)
            return [];
        int entrySize = ProgramHeader.SizeFor(Header.Class);
        ulong phoff = Header.ProgramHeaderOffset;
        if (Header.ProgramHeaderEntrySize != entrySize)
            ThrowHelper.Format(Name, "e_phentsize", Header.Class == ElfClass.Elf64 ? 0x36UL : 0x2aUL,
                $"{Header.ProgramHeaderEntrySize} does not match sizeof(Elf{(Encoding.Is64 ? 64 : 32)}_Phdr) = {entrySize}");
        if (ThrowHelper.OutOfRange(phoff, count * (ulong)entrySize, (ulong)span.Length))
            ThrowHelper.Format(Name, "e_phoff", phoff,
                $"{count} program headers of {entrySize} bytes at 0x{phoff:x} run past the end of the {span.Length}-byte file");
        var headers = new ProgramHeader[count];
        for (int i = 0; i < headers.Length; i++)
            headers[i] = ProgramHeader.Read(span.Slice((int)phoff + i * entrySize, entrySize), Encoding);
        return headers;
    }

    private ReadOnlyMemory<byte> FileRange(ulong offset, ulong size, string field)
    {
        if (ThrowHelper.OutOfRange(offset, size, (ulong)Bytes.Length))
            ThrowHelper.Format(Name, field, offset, $"range of 0x{size:x} bytes runs past the end of the {Bytes.Length}-byte file");
        return Bytes.Slice((int)offset, (int)size);
    }

    private string? ReadInterpreter()
    {
        foreach (var ph in _programHeaders)
        {
            if (ph.Type != SegmentType.Interp)
                continue;
            var s = FileRange(ph.Offset, ph.FileSize, "PT_INTERP p_offset").Span;
            int nul = s.IndexOf((byte)0);
            return System.Text.Encoding.UTF8.GetString(nul >= 0 ? s[..nul] : s);
        }
        return null;
    }

    private void ReadNotes()
    {
        bool any = false;
        foreach (var ph in _programHeaders)
        {
            if (ph.Type != SegmentType.Note)
                continue;
            any = true;
            ElfNote.ReadAll(FileRange(ph.Offset, ph.FileSize, "PT_NOTE p_offset"), ph.Alignment, Encoding, ph.Offset, Name, _notes);
        }
        if (!any)
        {
            foreach (var sh in _sections)
                if (sh.Type == SectionType.Note)
                    ElfNote.ReadAll(FileRange(sh.Offset, sh.Size, $"section {sh.Name} sh_offset"), sh.AddressAlignment, Encoding, sh.Offset, Name, _notes);
        }
        foreach (var note in _notes)
            if (note.Type == ElfNote.NT_GNU_BUILD_ID && note.Owner == "GNU")
                BuildId = note.Descriptor;
    }

    private void ReadDynamic()
    {
        int dynamicIndex = Array.FindIndex(_programHeaders, p => p.Type == SegmentType.Dynamic);
        if (dynamicIndex < 0)
            return;
        var ph = _programHeaders[dynamicIndex];
        var dyn = DynamicSection.Read(FileRange(ph.Offset, ph.FileSize, "PT_DYNAMIC p_offset").Span, Encoding, ph.VirtualAddress, ph.Offset, Name);
        Dynamic = dyn;

        if (dyn.TryGet(DynamicTag.StrTab, out ulong strtab))
        {
            if (!dyn.TryGet(DynamicTag.StrSz, out ulong strsz))
                ThrowHelper.Format(Name, "DT_STRSZ", ph.Offset, "DT_STRTAB is present but DT_STRSZ is missing");
            View.TryGetFileOffset(strtab, out ulong strtabOffset);
            DynamicStrings = new StringTable(View.Read(strtab, strsz, "DT_STRTAB"), Name, "DT_STRTAB", strtabOffset);
        }
        else if (dyn.Has(DynamicTag.SymTab) || dyn.Has(DynamicTag.Needed) || dyn.Has(DynamicTag.SoName))
        {
            ThrowHelper.Format(Name, "DT_STRTAB", ph.Offset, "the dynamic section names strings but has no DT_STRTAB");
        }

        SoName = dyn.TryGet(DynamicTag.SoName, out ulong soname) ? DynamicStrings.GetString(checked((uint)soname)) : null;
        RunPath = dyn.TryGet(DynamicTag.RunPath, out ulong runpath) ? DynamicStrings.GetString((uint)runpath) : null;
        RPath = dyn.TryGet(DynamicTag.RPath, out ulong rpath) ? DynamicStrings.GetString((uint)rpath) : null;
        foreach (ulong needed in dyn.GetAll(DynamicTag.Needed))
            _needed.Add(DynamicStrings.GetString((uint)needed));

        if (dyn.TryGet(DynamicTag.GnuHash, out ulong gnuHash))
            GnuHash = GnuHashTable.Read(View, gnuHash, Encoding);
        if (dyn.TryGet(DynamicTag.Hash, out ulong sysvHash))
            SysvHash = SysvHashTable.Read(View, sysvHash, Encoding);

        if (dyn.TryGet(DynamicTag.SymTab, out ulong symtab))
        {
            int entrySize = ElfSymbol.SizeFor(Header.Class);
            if (dyn.TryGet(DynamicTag.SymEnt, out ulong syment) && syment != (ulong)entrySize)
                ThrowHelper.Format(Name, "DT_SYMENT", ph.Offset, $"{syment} does not match sizeof(Elf_Sym) = {entrySize}");
            int count = CountDynamicSymbols(symtab, entrySize);
            var bytes = View.Read(symtab, (ulong)count * (ulong)entrySize, "DT_SYMTAB");
            DynamicSymbols = new SymbolTable(bytes, count, entrySize, Encoding, DynamicStrings, symtab, Name);
            if (dyn.Has(DynamicTag.VerSym) || dyn.Has(DynamicTag.VerDef) || dyn.Has(DynamicTag.VerNeed))
                Versions = SymbolVersionTable.Read(View, dyn, DynamicStrings, count, Encoding);
        }

        ReadRelocations(dyn);
    }

    /// <summary>
    /// DT_SYMTAB has no size. A loader takes it from the hash tables; readelf from the .dynsym section. Use the
    /// section when one describes this very table, else DT_GNU_HASH, else DT_HASH's nchain.
    /// </summary>
    private int CountDynamicSymbols(ulong symtab, int entrySize)
    {
        foreach (var sh in _sections)
            if (sh.Type == SectionType.DynSym && sh.Address == symtab && sh.EntrySize == (ulong)entrySize)
                return (int)Math.Min(sh.Size / (ulong)entrySize, int.MaxValue);
        if (GnuHash is { } gnu)
            return gnu.SymbolCount;
        if (SysvHash is { } sysv)
            return (int)Math.Min(sysv.ChainCount, int.MaxValue);
        return 0;
    }

    private void ReadRelocations(DynamicSection dyn)
    {
        var rela = ReadRelocationTable(dyn, DynamicTag.Rela, DynamicTag.RelaSz, DynamicTag.RelaEnt, RelocationFormat.Rela, "DT_RELA");
        var rel = ReadRelocationTable(dyn, DynamicTag.Rel, DynamicTag.RelSz, DynamicTag.RelEnt, RelocationFormat.Rel, "DT_REL");
        if (rela is not null) _relocationTables.Add(rela);
        if (rel is not null) _relocationTables.Add(rel);

        if (dyn.TryGet(DynamicTag.JmpRel, out ulong jmprel))
        {
            ulong pltrel = dyn.Get(DynamicTag.PltRel) ?? (ulong)DynamicTag.Rela;
            if (pltrel != (ulong)DynamicTag.Rela && pltrel != (ulong)DynamicTag.Rel)
                ThrowHelper.Format(Name, "DT_PLTREL", dyn.Address, $"{pltrel} is neither DT_RELA (7) nor DT_REL (17)");
            var format = pltrel == (ulong)DynamicTag.Rela ? RelocationFormat.Rela : RelocationFormat.Rel;
            ulong size = dyn.Get(DynamicTag.PltRelSz) ?? 0;
            var enclosing = format == RelocationFormat.Rela ? rela : rel;
            // Some linkers let DT_RELASZ cover .rela.plt too; glibc then skips the overlap (dynamic-link.h).
            bool inside = enclosing is not null && jmprel >= enclosing.Address
                && jmprel + size <= enclosing.Address + (ulong)(enclosing.Count * enclosing.EntrySize);
            if (!inside && size > 0)
            {
                int entrySize = RelocationTable.StandardEntrySize(format, Header.Class);
                _relocationTables.Add(new RelocationTable("DT_JMPREL", format, jmprel, View.Read(jmprel, size - size % (ulong)entrySize, "DT_JMPREL"), entrySize, Encoding));
            }
        }

        if (dyn.TryGet(DynamicTag.Relr, out ulong relr))
        {
            ulong size = dyn.Get(DynamicTag.RelrSz) ?? 0;
            ulong ent = dyn.Get(DynamicTag.RelrEnt) ?? (ulong)Encoding.WordSize;
            if (ent != (ulong)Encoding.WordSize)
                ThrowHelper.Format(Name, "DT_RELRENT", dyn.Address, $"{ent} does not match the word size {Encoding.WordSize}");
            if (size % ent != 0)
                ThrowHelper.Format(Name, "DT_RELRSZ", dyn.Address, $"0x{size:x} is not a multiple of DT_RELRENT {ent}");
            Relr = new RelrTable(relr, View.Read(relr, size, "DT_RELR"), Encoding, Name);
            Relr.ForEachAddress(static _ => { });
        }

        int symbolCount = DynamicSymbols?.Count ?? 0;
        foreach (var table in _relocationTables)
        {
            for (int i = 0; i < table.Count; i++)
            {
                uint sym = table[i].SymbolIndex;
                if (sym != 0 && sym >= (uint)symbolCount)
                    ThrowHelper.Format(Name, $"{table.Name} r_info", table.Address + (ulong)(i * table.EntrySize),
                        $"relocation {i} refers to symbol index {sym}, past the {symbolCount}-entry DT_SYMTAB");
            }
        }
    }

    private RelocationTable? ReadRelocationTable(DynamicSection dyn, DynamicTag addressTag, DynamicTag sizeTag, DynamicTag entryTag, RelocationFormat format, string name)
    {
        if (!dyn.TryGet(addressTag, out ulong address))
            return null;
        ulong size = dyn.Get(sizeTag) ?? 0;
        int standard = RelocationTable.StandardEntrySize(format, Header.Class);
        ulong entrySize = dyn.Get(entryTag) ?? (ulong)standard;
        if (entrySize != (ulong)standard)
            ThrowHelper.Format(Name, name + "ENT", dyn.Address, $"{entrySize} does not match the {standard}-byte entry");
        if (size % entrySize != 0)
            ThrowHelper.Format(Name, name + "SZ", dyn.Address, $"0x{size:x} is not a multiple of the {entrySize}-byte entry");
        return new RelocationTable(name, format, address, View.Read(address, size, name), standard, Encoding);
    }
}
