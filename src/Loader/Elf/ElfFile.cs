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

    /// <summary>
    /// Reads <paramref name="path"/> into memory (pread, not mmap: a mapped file that shrinks kills the reader with
    /// SIGBUS) and parses it. A path that cannot be opened, or is not a regular file, is an <see cref="ImageLoadException"/>
    /// worded as <c>ElfImage.Map</c> words it.
    /// </summary>
    public static ElfFile Open(string path) => new(FileOpening.ReadAll(path), path, null);

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
    /// <summary>
    /// Everything found from PT_DYNAMIC: strings, symbols, versions, hashes, relocations. Null for a static object.
    /// The same reader serves a mapped image (<see cref="DynamicTables.Read"/> over <see cref="VirtualView.FromImage"/>).
    /// </summary>
    public DynamicTables? Tables { get; private set; }
    /// <summary>DT_STRTAB, or default.</summary>
    public StringTable DynamicStrings => Tables?.Strings ?? default;
    /// <summary>DT_SYMTAB with its count, or null.</summary>
    public SymbolTable? DynamicSymbols => Tables?.Symbols;
    /// <summary>DT_VERSYM/DT_VERDEF/DT_VERNEED, or null when the object is not versioned.</summary>
    public SymbolVersionTable? Versions => Tables?.Versions;
    /// <summary>DT_GNU_HASH, or null.</summary>
    public GnuHashTable? GnuHash => Tables?.GnuHash;
    /// <summary>DT_HASH, or null.</summary>
    public SysvHashTable? SysvHash => Tables?.SysvHash;
    /// <summary>The REL/RELA tables: DT_RELA or DT_REL, then DT_JMPREL (unless it lies inside the former).</summary>
    public IReadOnlyList<RelocationTable> RelocationTables => Tables?.RelocationTables ?? [];
    /// <summary>DT_RELR, or null.</summary>
    public RelrTable? Relr => Tables?.Relr;
    /// <summary>DT_SONAME, or null.</summary>
    public string? SoName => Tables?.SoName;
    /// <summary>Every DT_NEEDED, in order.</summary>
    public IReadOnlyList<string> Needed => Tables?.Needed ?? [];
    /// <summary>DT_RUNPATH, or null.</summary>
    public string? RunPath => Tables?.RunPath;
    /// <summary>DT_RPATH, or null.</summary>
    public string? RPath => Tables?.RPath;

    /// <summary>The version of dynamic symbol <paramref name="index"/>, or none.</summary>
    public SymbolVersion GetSymbolVersion(int index) => Tables?.GetSymbolVersion(index) ?? SymbolVersion.None;

    /// <summary>Finds a defined dynamic symbol by name through the hash tables, as a loader does; its index or -1.</summary>
    public int FindDefinedSymbol(string name) => Tables?.FindDefinedSymbol(name) ?? -1;

    /// <summary>Releases what the file was read from, when it has an owner; a file read by <see cref="Open"/> has none.</summary>
    public void Dispose() => _owner?.Dispose();

    private SectionHeader[] ReadSectionHeaders(ReadOnlySpan<byte> span)
    {
        ulong shoff = Header.SectionHeaderOffset;
        SectionNameTableIndex = Header.SectionNameTableIndex;
        if (shoff == 0)
            return [];
        int entrySize = SectionHeader.SizeFor(Header.Class);
        if (Header.SectionHeaderEntrySize != entrySize)
            ThrowHelper.Format(Name, "e_shentsize", HeaderFieldOffset(ElfHeader.Field.SectionHeaderEntrySize),
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
            if (strtab.Type == SectionType.NoBits)
                ThrowHelper.Format(Name, "e_shstrndx", shoff, $"section {SectionNameTableIndex}, the section name table, is SHT_NOBITS and has no bytes");
            if (ThrowHelper.OutOfRange(strtab.Offset, strtab.Size, (ulong)span.Length))
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
                ThrowHelper.Format(Name, "e_phnum", HeaderFieldOffset(ElfHeader.Field.ProgramHeaderCount),
                    "is PN_XNUM (0xffff) but there is no section 0 to hold the real count");
            count = _sections[0].Info;
        }
        if (count == 0)
            return [];
        int entrySize = ProgramHeader.SizeFor(Header.Class);
        ulong phoff = Header.ProgramHeaderOffset;
        if (Header.ProgramHeaderEntrySize != entrySize)
            ThrowHelper.Format(Name, "e_phentsize", HeaderFieldOffset(ElfHeader.Field.ProgramHeaderEntrySize),
                $"{Header.ProgramHeaderEntrySize} does not match sizeof(Elf{(Encoding.Is64 ? 64 : 32)}_Phdr) = {entrySize}");
        if (ThrowHelper.OutOfRange(phoff, count * (ulong)entrySize, (ulong)span.Length))
            ThrowHelper.Format(Name, "e_phoff", phoff,
                $"{count} program headers of {entrySize} bytes at 0x{phoff:x} run past the end of the {span.Length}-byte file");
        var headers = new ProgramHeader[count];
        for (int i = 0; i < headers.Length; i++)
            headers[i] = ProgramHeader.Read(span.Slice((int)phoff + i * entrySize, entrySize), Encoding);
        return headers;
    }

    private ulong HeaderFieldOffset(ElfHeader.Field field) => (ulong)ElfHeader.OffsetOf(field, Header.Class);

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
        int dynamicIndex = DynamicSegment.IndexIn(_programHeaders);
        if (dynamicIndex < 0)
            return;
        var ph = _programHeaders[dynamicIndex];
        Dynamic = DynamicSection.Read(FileRange(ph.Offset, ph.FileSize, "PT_DYNAMIC p_offset").Span, Encoding, ph.VirtualAddress, ph.Offset, Name);
        Tables = DynamicTables.Read(View, Dynamic, Encoding, DynSymSectionCount());
    }

    /// <summary>
    /// DT_SYMTAB has no size. readelf takes it from the .dynsym section, a loader from the hash tables: the
    /// section wins when one describes this very table (see <see cref="DynamicTables.Read"/>).
    /// </summary>
    private int? DynSymSectionCount()
    {
        if (Dynamic is null || !Dynamic.TryGet(DynamicTag.SymTab, out ulong symtab))
            return null;
        int entrySize = ElfSymbol.SizeFor(Header.Class);
        foreach (var sh in _sections)
            if (sh.Type == SectionType.DynSym && sh.Address == symtab && sh.EntrySize == (ulong)entrySize)
                return (int)Math.Min(sh.Size / (ulong)entrySize, int.MaxValue);
        return null;
    }
}
