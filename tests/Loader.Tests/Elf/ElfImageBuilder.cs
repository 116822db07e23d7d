using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary>Which hash tables the builder emits.</summary>
public enum HashStyle
{
    Gnu,
    Sysv,
    Both,
}

/// <summary>A dynamic symbol the builder writes. Undefined symbols have <see cref="Defined"/> false.</summary>
public sealed record TestSymbol(string Name, ulong Value, ulong Size, bool Defined, byte Info, ushort VersionIndex);

/// <summary>A RELA relocation the builder writes (x86_64 type numbers, whatever the class).</summary>
public sealed record TestRelocation(ulong Offset, uint Type, uint SymbolIndex, long Addend);

/// <summary>
/// Builds a small, valid ELF shared object in memory (ELF64 or ELF32, either byte order): two PT_LOADs,
/// PT_DYNAMIC, PT_NOTE, optional section headers, DT_STRTAB/DT_SYMTAB, GNU and SysV hash tables, symbol
/// versions, RELA and JMPREL relocations and a DT_RELR table. The hash functions, the Bloom filter and the
/// RELR encoding are written here from the specifications, independently of the reader. Tests corrupt the
/// result through <see cref="BuiltElf"/>'s writers, using <see cref="ElfLayout"/> to find each field.
/// This file decides the layout; the other ElfImageBuilder.*.cs files write each part into it.
/// </summary>
public sealed partial class ElfImageBuilder
{
    /// <summary>LOAD1's p_vaddr minus its p_offset (congruent modulo the 4 KiB p_align).</summary>
    public const ulong Load1Delta = 0x1000;
    public const ushort EM_X86_64 = 62;
    public const ushort EM_386 = 3;
    public const uint R_X86_64_64 = 1;
    public const uint R_X86_64_GLOB_DAT = 6;
    public const uint R_X86_64_JUMP_SLOT = 7;
    public const uint R_X86_64_RELATIVE = 8;
    public const string DefaultName = "libtest.so";

    public bool Is64 { get; set; } = true;
    public bool BigEndian { get; set; }
    public ushort? Machine { get; set; }
    public HashStyle Hashes { get; set; } = HashStyle.Both;
    public bool SectionHeaders { get; set; } = true;
    public bool Versions { get; set; } = true;
    public bool Note { get; set; } = true;
    public bool Relr { get; set; } = true;
    /// <summary>Writes e_phnum = PN_XNUM and the real count in section 0's sh_info.</summary>
    public bool PhnumInSection0 { get; set; }
    /// <summary>Writes e_shnum = 0 and the real count in section 0's sh_size.</summary>
    public bool ShnumInSection0 { get; set; }
    /// <summary>Writes e_shstrndx = SHN_XINDEX and the real index in section 0's sh_link.</summary>
    public bool ShstrndxInSection0 { get; set; }
    public string SoName { get; set; } = "libtest.so.1";
    /// <summary>DT_RUNPATH, or null for none.</summary>
    public string? RunPath { get; set; } = "$ORIGIN/lib";
    public List<string> Needed { get; } = ["libc.so.6", "libm.so.6"];
    /// <summary>Entries written after the standard ones, before DT_NULL.</summary>
    public List<(DynamicTag Tag, ulong Value)> ExtraDynamic { get; } = [];
    /// <summary>Strings added to DT_STRTAB (e.g. for a DT_RUNPATH in <see cref="ExtraDynamic"/>).</summary>
    public List<string> ExtraStrings { get; } = [];

    private int WordSize => Is64 ? 8 : 4;

    public BuiltElf Build()
    {
        int w = WordSize;
        var dynstr = DynamicStrings();
        byte[] dynstrBytes = dynstr.ToArray();
        var (ordered, symoffset) = OrderSymbols();
        int symCount = ordered.Count + 1;

        // ---------------- The layout: the one place offsets are decided. ----------------
        int ehsize = Is64 ? 64 : 52, phentsize = Is64 ? 56 : 32, shentsize = Is64 ? 64 : 40;
        int symentsize = Is64 ? 24 : 16, dynentsize = 2 * w, relaentsize = 3 * w;
        int phnum = Note ? 4 : 3;
        int pos = ehsize;
        int phdrOffset = pos; pos += phnum * phentsize;
        int noteOffset = Align(ref pos, 4); int noteSize = Note ? 12 + 4 + 8 : 0; pos += noteSize;
        int dynsymOffset = Align(ref pos, 8); pos += symCount * symentsize;
        int dynstrOffset = pos; pos += dynstrBytes.Length;
        bool gnu = Hashes != HashStyle.Sysv, sysv = Hashes != HashStyle.Gnu;
        int gnuHashOffset = Align(ref pos, 8);
        int gnuHashSize = gnu ? 16 + BloomWords * w + (int)GnuBucketCount * 4 + (symCount - symoffset) * 4 : 0;
        pos += gnuHashSize;
        int hashOffset = Align(ref pos, 4);
        int hashSize = sysv ? 8 + (int)(SysvBucketCount + (uint)symCount) * 4 : 0;
        pos += hashSize;
        int versymOffset = Align(ref pos, 2); pos += Versions ? symCount * 2 : 0;
        int verdefOffset = Align(ref pos, 4); int verdefSize = Versions ? 2 * (20 + 8) : 0; pos += verdefSize;
        int verneedOffset = Align(ref pos, 4); int verneedSize = Versions ? 16 + 16 : 0; pos += verneedSize;
        int relaOffset = Align(ref pos, 8); int relaSize = 3 * relaentsize; pos += relaSize;
        int jmprelOffset = pos; int jmprelSize = relaentsize; pos += jmprelSize;
        // DT_RELR ends LOAD0. Its size does not depend on where .data lands, so encode a probe now and the
        // real addresses once LOAD1 is placed.
        int relrOffset = Align(ref pos, 8);
        var relrProbe = Relr ? EncodeRelr(RelrAddressesFrom(0x100000), w) : [];
        int relrSize = relrProbe.Count * w;
        pos += relrSize;
        int load0End = pos;
        if (load0End > (int)Load1Delta)
            throw new InvalidOperationException("LOAD0 grew past the LOAD1 delta");
        // LOAD1 (RW): the dynamic section (with room for extra entries), then .data and .bss.
        int dynamicCount = 40 + ExtraDynamic.Count + Needed.Count;
        int dataFileSize = 0x40, dataMemSize = 0x800;
        int load1Offset = Align(ref pos, 8);
        ulong load1Address = (ulong)load1Offset + Load1Delta;
        int dynamicOffset = load1Offset;
        int dataOffset = dynamicOffset + (dynamicCount * dynentsize);
        ulong dataAddress = load1Address + (ulong)(dataOffset - load1Offset);
        var relrAddresses = Relr ? RelrAddressesFrom(dataAddress + 0x20) : [];
        var relrWords = EncodeRelr(relrAddresses, w);
        if (relrWords.Count != relrProbe.Count)
            throw new InvalidOperationException("RELR size changed with the base address");
        int shstrtabOffset = dataOffset + dataFileSize;

        var layout = new ElfLayout
        {
            HeaderSize = ehsize, PhdrOffset = phdrOffset, PhdrEntrySize = phentsize, PhdrCount = phnum,
            NoteOffset = noteOffset, NoteSize = noteSize,
            DynsymOffset = dynsymOffset, SymbolEntrySize = symentsize, SymbolCount = symCount,
            DynstrOffset = dynstrOffset, DynstrSize = dynstrBytes.Length,
            GnuHashOffset = gnu ? gnuHashOffset : 0, GnuHashSize = gnuHashSize,
            HashOffset = sysv ? hashOffset : 0, HashSize = hashSize,
            VersymOffset = Versions ? versymOffset : 0, VerdefOffset = Versions ? verdefOffset : 0, VerdefSize = verdefSize,
            VerneedOffset = Versions ? verneedOffset : 0, VerneedSize = verneedSize,
            RelaOffset = relaOffset, RelaSize = relaSize, RelaEntrySize = relaentsize,
            JmprelOffset = jmprelOffset, JmprelSize = jmprelSize,
            RelrOffset = Relr ? relrOffset : 0, RelrSize = relrSize,
            Load0End = load0End, Load1Offset = load1Offset, Load1Address = load1Address,
            DynamicOffset = dynamicOffset, DynamicEntrySize = dynentsize, DynamicCount = dynamicCount,
            DataOffset = dataOffset, DataAddress = dataAddress, DataFileSize = dataFileSize, DataMemorySize = dataMemSize,
            ShdrEntrySize = shentsize,
        };

        // Section headers last: their names decide .shstrtab's size, and so where the headers go.
        var sections = SectionTable(layout, symoffset, shstrtabOffset);
        var shstr = new StringTableBuilder();
        foreach (var s in sections.Skip(1))
            shstr.Add(s.Name);
        byte[] shstrBytes = SectionHeaders ? shstr.ToArray() : [];
        pos = shstrtabOffset + shstrBytes.Length;
        int shdrOffset = SectionHeaders ? Align(ref pos, 8) : 0;
        if (SectionHeaders)
            pos += sections.Count * shentsize;
        int shstrndx = SectionHeaders ? sections.Count - 1 : 0;
        layout = layout with
        {
            ShstrtabOffset = SectionHeaders ? shstrtabOffset : 0, ShstrtabSize = shstrBytes.Length,
            ShdrOffset = shdrOffset, SectionCount = SectionHeaders ? sections.Count : 0,
            FileSize = pos,
        };

        // ---------------- Contents, then write. ----------------
        var symbols = PlaceSymbols(ordered, dataAddress);
        var (rela, jmprel) = PlaceRelocations(symbols, dataAddress);
        var dynamic = DynamicEntries(layout, dynstr);
        var image = new BuiltElf(new byte[layout.FileSize], layout, Is64, BigEndian, symbols, rela, jmprel, relrAddresses, SoName, [.. Needed], RunPath);
        WriteElfHeader(image, layout, shstrndx);
        WriteProgramHeaders(image, layout);
        if (Note)
            WriteBuildIdNote(image, layout);
        WriteSymbolTable(image, layout, symbols, dynstr, dynstrBytes);
        if (gnu)
            WriteGnuHash(image, layout, symbols, symoffset);
        if (sysv)
            WriteSysvHash(image, layout, symbols);
        if (Versions)
            WriteVersions(image, layout, symbols, dynstr);
        WriteRelocations(image, layout, rela, jmprel, relrWords);
        WriteDynamic(image, layout, dynamic);
        WriteData(image, layout);
        if (SectionHeaders)
            WriteSectionHeaders(image, layout, sections, shstr, shstrBytes, shstrndx);
        return image;
    }

    private static int Align(ref int pos, int alignment)
    {
        pos = (pos + alignment - 1) / alignment * alignment;
        return pos;
    }
}
