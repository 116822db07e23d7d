namespace Loader.Elf;

/// <summary>Reads a file's bytes for <see cref="HeaderTables"/>: an interface, not a delegate, so that the mapper
/// reads through itself and makes no delegate per load.</summary>
internal interface IFileRangeReader
{
    /// <summary>Returns <paramref name="length"/> bytes of the file from <paramref name="offset"/>; the caller has
    /// checked the range against the file's length.</summary>
    ReadOnlyMemory<byte> Read(ulong offset, int length);
}

/// <summary>An <see cref="IFileRangeReader"/> over a whole file already in memory.</summary>
internal sealed class MemoryRangeReader(ReadOnlyMemory<byte> bytes) : IFileRangeReader
{
    public ReadOnlyMemory<byte> Read(ulong offset, int length) => bytes.Slice((int)offset, length);
}

/// <summary>
/// The section and program header tables, read and checked through an <see cref="IFileRangeReader"/>: the same rules
/// whether the bytes are a whole file in memory (<see cref="ElfFile"/>) or read piece by piece with pread from a
/// descriptor (the mapper, which never holds the whole file).
/// </summary>
internal static class HeaderTables
{
    /// <summary>No section headers. Not <c>[]</c> where the load path needs one: the class constructor of
    /// <c>Array.Empty&lt;SectionHeader&gt;()</c> is compiled by the JIT on the first load (docs/benchmarks.md).</summary>
    public static readonly SectionHeader[] NoSections = new SectionHeader[0];

    /// <summary>The section headers with their names resolved, and the real e_shstrndx (through section 0 when it is
    /// SHN_XINDEX). Empty for a file without section headers.</summary>
    public static (SectionHeader[] Sections, int NameTableIndex) ReadSections(
        ElfHeader header, ElfEncoding encoding, string name, ulong fileLength, IFileRangeReader read)
    {
        ulong shoff = header.SectionHeaderOffset;
        int nameTableIndex = header.SectionNameTableIndex;
        if (shoff == 0)
            return ([], nameTableIndex);
        int entrySize = SectionHeader.SizeFor(header.Class);
        if (header.SectionHeaderEntrySize != entrySize)
            ThrowHelper.Format(name, "e_shentsize", FieldOffset(header, ElfHeader.Field.SectionHeaderEntrySize),
                $"{header.SectionHeaderEntrySize} does not match sizeof(Elf{(encoding.Is64 ? 64 : 32)}_Shdr) = {entrySize}");
        if (ThrowHelper.OutOfRange(shoff, (ulong)entrySize, fileLength))
            ThrowHelper.Format(name, "e_shoff", FieldOffset(header, ElfHeader.Field.SectionHeaderOffset), $"section header table at 0x{shoff:x} lies past the end of the {fileLength}-byte file");

        // Extended numbering: section 0 holds the real e_shnum (sh_size), e_shstrndx (sh_link) and e_phnum (sh_info).
        // Section 0 is read on its own only when it holds the count (e_shnum 0); otherwise it comes with the table,
        // in one read.
        ulong count = header.SectionHeaderCount;
        if (count == 0)
        {
            var section0 = SectionHeader.Read(read.Read(shoff, entrySize).Span, encoding);
            count = section0.Size;
            if (header.SectionNameTableIndex == ElfHeader.SHN_XINDEX)
                nameTableIndex = (int)section0.Link;
            if (count == 0)
                return ([], nameTableIndex);
        }
        if (count > int.MaxValue / (ulong)entrySize || ThrowHelper.OutOfRange(shoff, count * (ulong)entrySize, fileLength))
            ThrowHelper.Format(name, header.SectionHeaderCount == 0 ? "e_shnum (section 0 sh_size)" : "e_shnum",
                header.SectionHeaderCount == 0 ? shoff + (ulong)SectionSizeField(header.Class) : FieldOffset(header, ElfHeader.Field.SectionHeaderCount),
                $"{count} section headers of {entrySize} bytes at 0x{shoff:x} run past the end of the {fileLength}-byte file");
        var table = read.Read(shoff, (int)count * entrySize).Span;
        var sections = new SectionHeader[count];
        for (int i = 0; i < sections.Length; i++)
            sections[i] = SectionHeader.Read(table.Slice(i * entrySize, entrySize), encoding);
        if (header.SectionHeaderCount != 0 && header.SectionNameTableIndex == ElfHeader.SHN_XINDEX)
            nameTableIndex = (int)sections[0].Link;

        if (nameTableIndex != 0)
        {
            if ((uint)nameTableIndex >= (uint)sections.Length)
                ThrowHelper.Format(name, "e_shstrndx", NameTableIndexField(header, shoff), $"section index {nameTableIndex} is past the {sections.Length} section headers");
            var strtab = sections[nameTableIndex];
            if (strtab.Type == SectionType.NoBits)
                ThrowHelper.Format(name, "e_shstrndx", NameTableIndexField(header, shoff), $"section {nameTableIndex}, the section name table, is SHT_NOBITS and has no bytes");
            if (ThrowHelper.OutOfRange(strtab.Offset, strtab.Size, fileLength))
                ThrowHelper.Format(name, "e_shstrndx sh_offset", SectionOffsetField(header, nameTableIndex), $"section name table of 0x{strtab.Size:x} bytes runs past the end of the file");
            var names = new StringTable(read.Read(strtab.Offset, (int)strtab.Size), name, ".shstrtab", strtab.Offset);
            for (int i = 0; i < sections.Length; i++)
                sections[i] = sections[i] with { Name = names.GetString(sections[i].NameOffset) };
        }
        return (sections, nameTableIndex);
    }

    /// <summary>The program headers (e_phnum resolved through section 0 when it is PN_XNUM).</summary>
    public static ProgramHeader[] ReadProgramHeaders(
        ElfHeader header, ElfEncoding encoding, string name, ulong fileLength, IReadOnlyList<SectionHeader> sections, IFileRangeReader read) =>
        ReadProgramHeaderTable(header, encoding, name, fileLength, sections, read).ToArray();

    /// <summary>The program headers checked as <see cref="ReadProgramHeaders"/> checks them, decoded where they lie
    /// (valid as long as the bytes <paramref name="read"/> returned).</summary>
    internal static ProgramHeaderTable ReadProgramHeaderTable(
        ElfHeader header, ElfEncoding encoding, string name, ulong fileLength, IReadOnlyList<SectionHeader> sections, IFileRangeReader read)
    {
        ulong count = header.ProgramHeaderCount;
        if (count == ElfHeader.PN_XNUM)
        {
            if (sections.Count == 0)
                ThrowHelper.Format(name, "e_phnum", FieldOffset(header, ElfHeader.Field.ProgramHeaderCount),
                    "is PN_XNUM (0xffff) but there is no section 0 to hold the real count");
            count = sections[0].Info;
        }
        if (count == 0)
            return ProgramHeaderTable.Empty;
        int entrySize = ProgramHeader.SizeFor(header.Class);
        ulong phoff = header.ProgramHeaderOffset;
        if (header.ProgramHeaderEntrySize != entrySize)
            ThrowHelper.Format(name, "e_phentsize", FieldOffset(header, ElfHeader.Field.ProgramHeaderEntrySize),
                $"{header.ProgramHeaderEntrySize} does not match sizeof(Elf{(encoding.Is64 ? 64 : 32)}_Phdr) = {entrySize}");
        if (ThrowHelper.OutOfRange(phoff, count * (ulong)entrySize, fileLength))
            ThrowHelper.Format(name, "e_phoff", FieldOffset(header, ElfHeader.Field.ProgramHeaderOffset),
                $"{count} program headers of {entrySize} bytes at 0x{phoff:x} run past the end of the {fileLength}-byte file");
        return new ProgramHeaderTable(read.Read(phoff, (int)count * entrySize), (int)count, encoding);
    }

    /// <summary>
    /// DT_SYMTAB has no size. readelf takes it from the .dynsym section, a loader from the hash tables: the
    /// section wins when one describes this very table (see <see cref="DynamicTables.Read"/>).
    /// </summary>
    public static int? DynamicSymbolCount(DynamicSection? dynamic, IReadOnlyList<SectionHeader> sections, ElfClass elfClass)
    {
        if (dynamic is null || !dynamic.TryGet(DynamicTag.SymTab, out ulong symtab))
            return null;
        int entrySize = ElfSymbol.SizeFor(elfClass);
        foreach (var sh in sections)
            if (sh.Type == SectionType.DynSym && sh.Address == symtab && sh.EntrySize == (ulong)entrySize)
                return (int)Math.Min(sh.Size / (ulong)entrySize, int.MaxValue);
        return null;
    }

    /// <summary>Where a field of the ELF header lies: a refusal's offset is the bad field's own, not the value it holds.</summary>
    public static ulong FieldOffset(ElfHeader header, ElfHeader.Field field) => (ulong)ElfHeader.OffsetOf(field, header.Class);

    /// <summary>Where program header <paramref name="index"/>'s p_offset lies in the file.</summary>
    public static ulong ProgramOffsetField(ElfHeader header, int index) =>
        header.ProgramHeaderOffset + (ulong)index * (ulong)ProgramHeader.SizeFor(header.Class) + (header.Class == ElfClass.Elf64 ? 8UL : 4UL);

    /// <summary>Where section header <paramref name="index"/>'s sh_offset lies in the file.</summary>
    public static ulong SectionOffsetField(ElfHeader header, int index) =>
        header.SectionHeaderOffset + (ulong)index * (ulong)SectionHeader.SizeFor(header.Class) + (header.Class == ElfClass.Elf64 ? 24UL : 16UL);

    // sh_size and sh_link of section 0 hold e_shnum and e_shstrndx under extended numbering.
    private static int SectionSizeField(ElfClass elfClass) => elfClass == ElfClass.Elf64 ? 32 : 20;

    private static ulong NameTableIndexField(ElfHeader header, ulong shoff) =>
        header.SectionNameTableIndex == ElfHeader.SHN_XINDEX
            ? shoff + (header.Class == ElfClass.Elf64 ? 40UL : 24UL)
            : FieldOffset(header, ElfHeader.Field.SectionNameTableIndex);
}
