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
        Header = ElfHeader.Read(bytes.Span, name);
        Encoding = new ElfEncoding(Header.Class, Header.Data);
        var read = new MemoryRangeReader(bytes);
        (_sections, SectionNameTableIndex) = HeaderTables.ReadSections(Header, Encoding, name, (ulong)bytes.Length, read);
        _programHeaders = HeaderTables.ReadProgramHeaders(Header, Encoding, name, (ulong)bytes.Length, _sections, read);
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
    public int SectionNameTableIndex { get; }
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

    /// <summary>The bytes [offset, offset + size); out of the file, a refusal at <paramref name="fieldLocation"/>, where
    /// the field holding <paramref name="offset"/> lies.</summary>
    private ReadOnlyMemory<byte> FileRange(ulong offset, ulong size, string field, ulong fieldLocation)
    {
        if (ThrowHelper.OutOfRange(offset, size, (ulong)Bytes.Length))
            ThrowHelper.Format(Name, field, fieldLocation, $"range of 0x{size:x} bytes at 0x{offset:x} runs past the end of the {Bytes.Length}-byte file");
        return Bytes.Slice((int)offset, (int)size);
    }

    private string? ReadInterpreter()
    {
        for (int i = 0; i < _programHeaders.Length; i++)
        {
            var ph = _programHeaders[i];
            if (ph.Type != SegmentType.Interp)
                continue;
            var s = FileRange(ph.Offset, ph.FileSize, "PT_INTERP p_offset", HeaderTables.ProgramOffsetField(Header, i)).Span;
            int nul = s.IndexOf((byte)0);
            return System.Text.Encoding.UTF8.GetString(nul >= 0 ? s[..nul] : s);
        }
        return null;
    }

    private void ReadNotes()
    {
        bool any = false;
        for (int i = 0; i < _programHeaders.Length; i++)
        {
            var ph = _programHeaders[i];
            if (ph.Type != SegmentType.Note)
                continue;
            any = true;
            ElfNote.ReadAll(FileRange(ph.Offset, ph.FileSize, "PT_NOTE p_offset", HeaderTables.ProgramOffsetField(Header, i)), ph.Alignment, Encoding, ph.Offset, Name, _notes);
        }
        if (!any)
        {
            for (int i = 0; i < _sections.Length; i++)
            {
                var sh = _sections[i];
                if (sh.Type == SectionType.Note)
                    ElfNote.ReadAll(FileRange(sh.Offset, sh.Size, $"section {sh.Name} sh_offset", HeaderTables.SectionOffsetField(Header, i)), sh.AddressAlignment, Encoding, sh.Offset, Name, _notes);
            }
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
        Dynamic = DynamicSection.Read(FileRange(ph.Offset, ph.FileSize, "PT_DYNAMIC p_offset", HeaderTables.ProgramOffsetField(Header, dynamicIndex)), Encoding, ph.VirtualAddress, ph.Offset, Name);
        Tables = DynamicTables.Read(View, Dynamic, Encoding, HeaderTables.DynamicSymbolCount(Dynamic, _sections, Header.Class));
    }
}
