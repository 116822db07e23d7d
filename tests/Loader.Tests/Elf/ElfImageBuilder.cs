using System.Buffers.Binary;
using System.Text;
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
/// Where each part of a built image lies. Every part of LOAD0 has p_vaddr == p_offset; LOAD1 (the dynamic
/// section and .data) has p_vaddr == p_offset + <see cref="ElfImageBuilder.Load1Delta"/>.
/// </summary>
public sealed record ElfLayout
{
    public int HeaderSize { get; init; }
    public int PhdrOffset { get; init; }
    public int PhdrEntrySize { get; init; }
    public int PhdrCount { get; init; }
    public int NoteOffset { get; init; }
    public int NoteSize { get; init; }
    public int DynsymOffset { get; init; }
    public int SymbolEntrySize { get; init; }
    public int SymbolCount { get; init; }
    public int DynstrOffset { get; init; }
    public int DynstrSize { get; init; }
    public int GnuHashOffset { get; init; }
    public int GnuHashSize { get; init; }
    public int HashOffset { get; init; }
    public int HashSize { get; init; }
    public int VersymOffset { get; init; }
    public int VerdefOffset { get; init; }
    public int VerdefSize { get; init; }
    public int VerneedOffset { get; init; }
    public int VerneedSize { get; init; }
    public int RelaOffset { get; init; }
    public int RelaSize { get; init; }
    public int RelaEntrySize { get; init; }
    public int JmprelOffset { get; init; }
    public int JmprelSize { get; init; }
    public int RelrOffset { get; init; }
    public int RelrSize { get; init; }
    public int Load0End { get; init; }
    public int Load1Offset { get; init; }
    public ulong Load1Address { get; init; }
    public int DynamicOffset { get; init; }
    public int DynamicEntrySize { get; init; }
    public int DynamicCount { get; init; }
    public int DataOffset { get; init; }
    public ulong DataAddress { get; init; }
    public int DataFileSize { get; init; }
    public int DataMemorySize { get; init; }
    public int ShstrtabOffset { get; init; }
    public int ShstrtabSize { get; init; }
    public int ShdrOffset { get; init; }
    public int ShdrEntrySize { get; init; }
    public int SectionCount { get; init; }
    public int FileSize { get; init; }

    /// <summary>The virtual address of a LOAD1 file offset.</summary>
    public ulong Load1AddressOf(int fileOffset) => Load1Address + (ulong)(fileOffset - Load1Offset);
}

/// <summary>
/// Builds a small, valid ELF shared object in memory (ELF64 or ELF32, either byte order): two PT_LOADs,
/// PT_DYNAMIC, PT_NOTE, optional section headers, DT_STRTAB/DT_SYMTAB, GNU and SysV hash tables, symbol
/// versions, RELA and JMPREL relocations and a DT_RELR table. The hash functions, the Bloom filter and the
/// RELR encoding are written here from the specifications, independently of the reader. Tests corrupt the
/// result through <see cref="BuiltElf"/>'s writers, using <see cref="ElfLayout"/> to find each field.
/// </summary>
public sealed class ElfImageBuilder
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

    /// <summary>The symbols in table order: null, the undefined ones, then the defined ones sorted by GNU hash bucket.</summary>
    private static readonly (string Name, bool Defined, byte Info, ushort Version)[] SymbolSpecs =
    [
        ("ext_func", false, 0x12, 3),      // GLOBAL FUNC, needs GLIBC_2.2.5 from libc.so.6
        ("ext_data", false, 0x11, 1),      // GLOBAL OBJECT, unversioned
        ("alpha", true, 0x12, 2),          // alpha@@LIBTEST_1.0
        ("beta", true, 0x12, 0x8002),      // beta@LIBTEST_1.0 (hidden)
        ("gamma_data", true, 0x11, 1),
        ("delta", true, 0x22, 1),          // WEAK FUNC
        ("epsilon", true, 0x12, 1),
        ("zeta_with_a_longer_name", true, 0x12, 1),
    ];

    private const uint GnuBucketCount = 3;
    private const uint SysvBucketCount = 5;
    private const string DefinedVersion = "LIBTEST_1.0";
    private const string NeededVersion = "GLIBC_2.2.5";

    /// <summary>The GNU hash (dl_new_hash): h = h * 33 + c from 5381.</summary>
    public static uint GnuHash(string name)
    {
        uint h = 5381;
        foreach (byte c in Encoding.UTF8.GetBytes(name))
            h = unchecked((h << 5) + h + c);
        return h;
    }

    /// <summary>The System V ELF hash (gABI, "Hash Table").</summary>
    public static uint SysvHash(string name)
    {
        uint h = 0;
        foreach (byte c in Encoding.UTF8.GetBytes(name))
        {
            h = unchecked((h << 4) + c);
            uint high = h & 0xf000_0000;
            if (high != 0)
                h ^= high >> 24;
            h &= 0x0fff_ffff;
        }
        return h;
    }

    /// <summary>DT_RELR encoding (the generic ABI proposal): an address word, then bitmap words of (bits − 1) words each.</summary>
    public static List<ulong> EncodeRelr(IReadOnlyList<ulong> addresses, int wordSize)
    {
        int bitsPerBitmap = wordSize * 8 - 1;
        var words = new List<ulong>();
        int i = 0;
        while (i < addresses.Count)
        {
            ulong next = addresses[i] + (ulong)wordSize;
            words.Add(addresses[i++]);
            while (true)
            {
                ulong bitmap = 0;
                while (i < addresses.Count && addresses[i] >= next && addresses[i] < next + (ulong)(bitsPerBitmap * wordSize)
                       && (addresses[i] - next) % (ulong)wordSize == 0)
                {
                    bitmap |= 1UL << (int)((addresses[i] - next) / (ulong)wordSize);
                    i++;
                }
                if (bitmap == 0)
                    break;
                words.Add((bitmap << 1) | 1);
                next += (ulong)(bitsPerBitmap * wordSize);
            }
        }
        return words;
    }

    public BuiltElf Build()
    {
        int w = WordSize;

        // The strings, each once.
        var dynstr = new StringTableBuilder();
        dynstr.Add(SoName);
        foreach (var n in Needed)
            dynstr.Add(n);
        foreach (var s in SymbolSpecs)
            dynstr.Add(s.Name);
        dynstr.Add(DefinedVersion);
        dynstr.Add(NeededVersion);
        foreach (var s in ExtraStrings)
            dynstr.Add(s);
        if (RunPath is not null)
            dynstr.Add(RunPath);
        byte[] dynstrBytes = dynstr.ToArray();

        // The symbols: null, undefined, then defined sorted by GNU bucket (stable), as ld lays them out.
        var undefined = SymbolSpecs.Where(s => !s.Defined).ToList();
        var defined = SymbolSpecs.Where(s => s.Defined).OrderBy(s => GnuHash(s.Name) % GnuBucketCount).ToList();
        var ordered = undefined.Concat(defined).ToList();
        int symCount = ordered.Count + 1;
        int symoffset = 1 + undefined.Count;

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
        int bloomWords = 2;
        int gnuHashOffset = Align(ref pos, 8);
        int gnuHashSize = gnu ? 16 + bloomWords * w + (int)GnuBucketCount * 4 + (symCount - symoffset) * 4 : 0;
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
        int dynCountEstimate = 40 + ExtraDynamic.Count + Needed.Count;
        int dataFileSize = 0x40, dataMemSize = 0x800;
        int load1Offset = Align(ref pos, 8);
        ulong load1Address = (ulong)load1Offset + Load1Delta;
        var dynamic = new List<(DynamicTag Tag, ulong Value)>();
        int dynamicOffset = load1Offset;
        ulong dynamicAddress = load1Address;
        int dataOffset = dynamicOffset + (dynCountEstimate * dynentsize);
        ulong dataAddress = load1Address + (ulong)(dataOffset - load1Offset);
        var relrAddresses = Relr ? RelrAddressesFrom(dataAddress + 0x20) : [];
        var relrWords = EncodeRelr(relrAddresses, w);
        if (relrWords.Count != relrProbe.Count)
            throw new InvalidOperationException("RELR size changed with the base address");
        pos = dataOffset + dataFileSize;
        int shstrtabOffset = pos;

        // ---------------- Contents that depend on addresses. ----------------
        var symbols = new List<TestSymbol> { new("", 0, 0, false, 0, 0) };
        int funcIndex = 0;
        foreach (var s in ordered)
        {
            ulong value = !s.Defined ? 0 : s.Info == 0x11 ? dataAddress + 0x30 : (ulong)(0x200 + 0x10 * funcIndex++);
            symbols.Add(new TestSymbol(s.Name, value, s.Defined ? (ulong)(s.Info == 0x11 ? 8 : 16) : 0, s.Defined, s.Info, Versions ? s.Version : (ushort)0));
        }
        int Sym(string name) => symbols.FindIndex(s => s.Name == name);
        var rela = new List<TestRelocation>
        {
            new(dataAddress + 0x00, R_X86_64_RELATIVE, 0, 0x1234),
            new(dataAddress + 0x08, R_X86_64_GLOB_DAT, (uint)Sym("ext_data"), 0),
            new(dataAddress + 0x10, R_X86_64_64, (uint)Sym("alpha"), 4),
        };
        var jmprel = new List<TestRelocation> { new(dataAddress + 0x18, R_X86_64_JUMP_SLOT, (uint)Sym("ext_func"), 0) };

        foreach (var n in Needed)
            dynamic.Add((DynamicTag.Needed, dynstr[n]));
        dynamic.Add((DynamicTag.SoName, dynstr[SoName]));
        if (RunPath is not null)
            dynamic.Add((DynamicTag.RunPath, dynstr[RunPath]));
        if (sysv) dynamic.Add((DynamicTag.Hash, (ulong)hashOffset));
        if (gnu) dynamic.Add((DynamicTag.GnuHash, (ulong)gnuHashOffset));
        dynamic.Add((DynamicTag.StrTab, (ulong)dynstrOffset));
        dynamic.Add((DynamicTag.SymTab, (ulong)dynsymOffset));
        dynamic.Add((DynamicTag.StrSz, (ulong)dynstrBytes.Length));
        dynamic.Add((DynamicTag.SymEnt, (ulong)symentsize));
        dynamic.Add((DynamicTag.Rela, (ulong)relaOffset));
        dynamic.Add((DynamicTag.RelaSz, (ulong)relaSize));
        dynamic.Add((DynamicTag.RelaEnt, (ulong)relaentsize));
        dynamic.Add((DynamicTag.JmpRel, (ulong)jmprelOffset));
        dynamic.Add((DynamicTag.PltRelSz, (ulong)jmprelSize));
        dynamic.Add((DynamicTag.PltRel, (ulong)DynamicTag.Rela));
        if (Relr)
        {
            dynamic.Add((DynamicTag.Relr, (ulong)relrOffset));
            dynamic.Add((DynamicTag.RelrSz, (ulong)relrSize));
            dynamic.Add((DynamicTag.RelrEnt, (ulong)w));
        }
        if (Versions)
        {
            dynamic.Add((DynamicTag.VerSym, (ulong)versymOffset));
            dynamic.Add((DynamicTag.VerDef, (ulong)verdefOffset));
            dynamic.Add((DynamicTag.VerDefNum, 2));
            dynamic.Add((DynamicTag.VerNeed, (ulong)verneedOffset));
            dynamic.Add((DynamicTag.VerNeedNum, 1));
        }
        dynamic.AddRange(ExtraDynamic);
        dynamic.Add((DynamicTag.Null, 0));
        if (dynamic.Count > dynCountEstimate)
            throw new InvalidOperationException("too many dynamic entries");
        // Pad with DT_NULLs up to the reserved size, so tests can append entries in place.
        int dynamicCount = dynCountEstimate;
        while (dynamic.Count < dynamicCount)
            dynamic.Add((DynamicTag.Null, 0));

        // Section headers: names first (they decide .shstrtab's size).
        var sections = new List<Section> { new("", 0, 0, 0, 0, 0, 0, 0, 0, 0) };
        if (SectionHeaders)
        {
            const ulong A = 2, WA = 3;
            if (Note) sections.Add(new(".note.gnu.build-id", (uint)SectionType.Note, A, (ulong)noteOffset, noteOffset, (ulong)noteSize, 0, 0, 4, 0));
            int dynsymIndex = sections.Count;
            sections.Add(new(".dynsym", (uint)SectionType.DynSym, A, (ulong)dynsymOffset, dynsymOffset, (ulong)(symCount * symentsize), (uint)dynsymIndex + 1, (uint)symoffset, 8, (ulong)symentsize));
            sections.Add(new(".dynstr", (uint)SectionType.StrTab, A, (ulong)dynstrOffset, dynstrOffset, (ulong)dynstrBytes.Length, 0, 0, 1, 0));
            if (gnu) sections.Add(new(".gnu.hash", 0x6ffffff6, A, (ulong)gnuHashOffset, gnuHashOffset, (ulong)gnuHashSize, (uint)dynsymIndex, 0, 8, 0));
            if (sysv) sections.Add(new(".hash", 5, A, (ulong)hashOffset, hashOffset, (ulong)hashSize, (uint)dynsymIndex, 0, 4, 4));
            if (Versions)
            {
                sections.Add(new(".gnu.version", 0x6fffffff, A, (ulong)versymOffset, versymOffset, (ulong)(symCount * 2), (uint)dynsymIndex, 0, 2, 2));
                sections.Add(new(".gnu.version_d", 0x6ffffffd, A, (ulong)verdefOffset, verdefOffset, (ulong)verdefSize, (uint)dynsymIndex + 1, 2, 4, 0));
                sections.Add(new(".gnu.version_r", 0x6ffffffe, A, (ulong)verneedOffset, verneedOffset, (ulong)verneedSize, (uint)dynsymIndex + 1, 1, 4, 0));
            }
            sections.Add(new(".rela.dyn", 4, A, (ulong)relaOffset, relaOffset, (ulong)relaSize, (uint)dynsymIndex, 0, 8, (ulong)relaentsize));
            sections.Add(new(".rela.plt", 4, A | 0x40, (ulong)jmprelOffset, jmprelOffset, (ulong)jmprelSize, (uint)dynsymIndex, 0, 8, (ulong)relaentsize));
            if (Relr) sections.Add(new(".relr.dyn", 19, A, (ulong)relrOffset, relrOffset, (ulong)relrSize, 0, 0, 8, (ulong)w));
            sections.Add(new(".dynamic", (uint)SectionType.Dynamic, WA, dynamicAddress, dynamicOffset, (ulong)(dynamicCount * dynentsize), (uint)dynsymIndex + 1, 0, 8, (ulong)dynentsize));
            sections.Add(new(".data", 1, WA, dataAddress, dataOffset, (ulong)dataFileSize, 0, 0, 8, 0));
            sections.Add(new(".bss", 8, WA, dataAddress + (ulong)dataFileSize, dataOffset + dataFileSize, (ulong)(dataMemSize - dataFileSize), 0, 0, 8, 0));
            sections.Add(new(".shstrtab", 3, 0, 0, shstrtabOffset, 0, 0, 0, 1, 0));
        }
        var shstr = new StringTableBuilder();
        foreach (var s in sections.Skip(1))
            shstr.Add(s.Name);
        byte[] shstrBytes = SectionHeaders ? shstr.ToArray() : [];
        pos = shstrtabOffset + shstrBytes.Length;
        int shdrOffset = SectionHeaders ? Align(ref pos, 8) : 0;
        if (SectionHeaders)
            pos += sections.Count * shentsize;
        int shstrndx = SectionHeaders ? sections.Count - 1 : 0;

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
            ShstrtabOffset = SectionHeaders ? shstrtabOffset : 0, ShstrtabSize = shstrBytes.Length,
            ShdrOffset = shdrOffset, ShdrEntrySize = shentsize, SectionCount = SectionHeaders ? sections.Count : 0,
            FileSize = pos,
        };

        // ---------------- Write. ----------------
        var bytes = new byte[layout.FileSize];
        var image = new BuiltElf(bytes, layout, Is64, BigEndian, symbols, rela, jmprel, relrAddresses, SoName, [.. Needed], RunPath);

        // ELF header.
        bytes[0] = 0x7f; bytes[1] = (byte)'E'; bytes[2] = (byte)'L'; bytes[3] = (byte)'F';
        bytes[4] = (byte)(Is64 ? 2 : 1); bytes[5] = (byte)(BigEndian ? 2 : 1); bytes[6] = 1;
        image.WriteU16(16, 3);                                         // e_type = ET_DYN
        image.WriteU16(18, Machine ?? (Is64 ? EM_X86_64 : EM_386));    // e_machine
        image.WriteU32(20, 1);                                         // e_version
        image.WriteWord(24, 0);                                        // e_entry
        image.WriteWord(24 + w, (ulong)phdrOffset);                    // e_phoff
        image.WriteWord(24 + 2 * w, (ulong)shdrOffset);                // e_shoff
        int after = 24 + 3 * w;
        image.WriteU32(after, 0);                                      // e_flags
        image.WriteU16(after + 4, (ushort)ehsize);
        image.WriteU16(after + 6, (ushort)phentsize);
        image.WriteU16(after + 8, PhnumInSection0 ? (ushort)0xffff : (ushort)phnum);
        image.WriteU16(after + 10, (ushort)(SectionHeaders ? shentsize : 0));
        image.WriteU16(after + 12, (ushort)(ShnumInSection0 ? 0 : layout.SectionCount));
        image.WriteU16(after + 14, ShstrndxInSection0 ? (ushort)0xffff : (ushort)shstrndx);

        // Program headers: LOAD0 (R), LOAD1 (RW), DYNAMIC, NOTE.
        int ph = phdrOffset;
        WritePhdr(image, ph, 1, 4, 0, 0, (ulong)load0End, (ulong)load0End, 0x1000);
        WritePhdr(image, ph += phentsize, 1, 6, (ulong)load1Offset, load1Address,
            (ulong)(dataOffset + dataFileSize - load1Offset), (ulong)(dataOffset + dataMemSize - load1Offset), 0x1000);
        WritePhdr(image, ph += phentsize, 2, 6, (ulong)dynamicOffset, dynamicAddress,
            (ulong)(dynamicCount * dynentsize), (ulong)(dynamicCount * dynentsize), (ulong)w);
        if (Note)
            WritePhdr(image, ph += phentsize, 4, 4, (ulong)noteOffset, (ulong)noteOffset, (ulong)noteSize, (ulong)noteSize, 4);

        // NT_GNU_BUILD_ID note: namesz 4 ("GNU\0"), descsz 8, type 3.
        if (Note)
        {
            image.WriteU32(noteOffset, 4); image.WriteU32(noteOffset + 4, 8); image.WriteU32(noteOffset + 8, 3);
            Encoding.ASCII.GetBytes("GNU\0").CopyTo(bytes, noteOffset + 12);
            for (int i = 0; i < 8; i++)
                bytes[noteOffset + 16 + i] = (byte)(0xb0 + i);
        }

        // .dynsym
        for (int i = 0; i < symbols.Count; i++)
        {
            var s = symbols[i];
            int o = dynsymOffset + i * symentsize;
            uint name = i == 0 ? 0 : dynstr[s.Name];
            ushort shndx = s.Defined ? (ushort)1 : (ushort)0;
            if (Is64)
            {
                image.WriteU32(o, name); bytes[o + 4] = s.Info; bytes[o + 5] = 0; image.WriteU16(o + 6, shndx);
                image.WriteU64(o + 8, s.Value); image.WriteU64(o + 16, s.Size);
            }
            else
            {
                image.WriteU32(o, name); image.WriteU32(o + 4, (uint)s.Value); image.WriteU32(o + 8, (uint)s.Size);
                bytes[o + 12] = s.Info; bytes[o + 13] = 0; image.WriteU16(o + 14, shndx);
            }
        }
        dynstrBytes.CopyTo(bytes, dynstrOffset);

        // DT_GNU_HASH: header, Bloom filter, buckets, chains (hash with bit 0 marking each chain's end).
        if (gnu)
        {
            int bits = w * 8;
            uint shift = Is64 ? 6u : 5u;
            image.WriteU32(gnuHashOffset, GnuBucketCount); image.WriteU32(gnuHashOffset + 4, (uint)symoffset);
            image.WriteU32(gnuHashOffset + 8, (uint)bloomWords); image.WriteU32(gnuHashOffset + 12, shift);
            var bloom = new ulong[bloomWords];
            int bucketsAt = gnuHashOffset + 16 + bloomWords * w, chainsAt = bucketsAt + (int)GnuBucketCount * 4;
            for (int i = symoffset; i < symCount; i++)
            {
                uint h = GnuHash(symbols[i].Name);
                bloom[(h / (uint)bits) % (uint)bloomWords] |= (1UL << (int)(h % (uint)bits)) | (1UL << (int)((h >> (int)shift) % (uint)bits));
                uint bucket = h % GnuBucketCount;
                if (image.ReadU32(bucketsAt + (int)bucket * 4) == 0)
                    image.WriteU32(bucketsAt + (int)bucket * 4, (uint)i);
                bool last = i + 1 == symCount || GnuHash(symbols[i + 1].Name) % GnuBucketCount != bucket;
                image.WriteU32(chainsAt + (i - symoffset) * 4, last ? h | 1 : h & ~1u);
            }
            for (int i = 0; i < bloomWords; i++)
                image.WriteWord(gnuHashOffset + 16 + i * w, bloom[i]);
        }

        // DT_HASH: nbucket, nchain, buckets, chains; each new symbol is pushed at the head of its bucket.
        if (sysv)
        {
            image.WriteU32(hashOffset, SysvBucketCount); image.WriteU32(hashOffset + 4, (uint)symCount);
            int bucketsAt = hashOffset + 8, chainsAt = bucketsAt + (int)SysvBucketCount * 4;
            for (int i = 1; i < symCount; i++)
            {
                int b = bucketsAt + (int)(SysvHash(symbols[i].Name) % SysvBucketCount) * 4;
                image.WriteU32(chainsAt + i * 4, image.ReadU32(b));
                image.WriteU32(b, (uint)i);
            }
        }

        if (Versions)
        {
            for (int i = 0; i < symCount; i++)
                image.WriteU16(versymOffset + i * 2, symbols[i].VersionIndex);
            // Verdef 1: the base (VER_FLG_BASE, the soname); Verdef 2: LIBTEST_1.0. Each with one Verdaux.
            WriteVerdef(image, verdefOffset, flags: 1, ndx: 1, SysvHash(SoName), next: 28, dynstr[SoName]);
            WriteVerdef(image, verdefOffset + 28, flags: 0, ndx: 2, SysvHash(DefinedVersion), next: 0, dynstr[DefinedVersion]);
            // Verneed: libc.so.6 with one Vernaux, GLIBC_2.2.5 as index 3.
            image.WriteU16(verneedOffset, 1); image.WriteU16(verneedOffset + 2, 1);
            image.WriteU32(verneedOffset + 4, dynstr["libc.so.6"]); image.WriteU32(verneedOffset + 8, 16); image.WriteU32(verneedOffset + 12, 0);
            int a = verneedOffset + 16;
            image.WriteU32(a, SysvHash(NeededVersion)); image.WriteU16(a + 4, 0); image.WriteU16(a + 6, 3);
            image.WriteU32(a + 8, dynstr[NeededVersion]); image.WriteU32(a + 12, 0);
        }

        for (int i = 0; i < rela.Count; i++)
            WriteRela(image, relaOffset + i * relaentsize, rela[i]);
        WriteRela(image, jmprelOffset, jmprel[0]);
        for (int i = 0; i < relrWords.Count; i++)
            image.WriteWord(relrOffset + i * w, relrWords[i]);

        for (int i = 0; i < dynamic.Count; i++)
        {
            image.WriteWord(dynamicOffset + i * dynentsize, (ulong)(long)dynamic[i].Tag);
            image.WriteWord(dynamicOffset + i * dynentsize + w, dynamic[i].Value);
        }
        for (int i = 0; i < dataFileSize; i++)
            bytes[dataOffset + i] = (byte)(0x40 + i);

        if (SectionHeaders)
        {
            shstrBytes.CopyTo(bytes, shstrtabOffset);
            sections[^1] = sections[^1] with { Size = (ulong)shstrBytes.Length };
            sections[0] = sections[0] with
            {
                Size = ShnumInSection0 ? (ulong)sections.Count : 0,
                Link = ShstrndxInSection0 ? (uint)shstrndx : 0,
                Info = PhnumInSection0 ? (uint)phnum : 0,
            };
            for (int i = 0; i < sections.Count; i++)
                WriteShdr(image, shdrOffset + i * shentsize, sections[i], i == 0 ? 0 : shstr[sections[i].Name]);
        }
        return image;
    }

    /// <summary>Addresses for DT_RELR: a run, a gap, a second bitmap's worth later, then a far address.</summary>
    private List<ulong> RelrAddressesFrom(ulong b)
    {
        ulong w = (ulong)WordSize;
        return [b, b + w, b + 2 * w, b + 4 * w, b + 70 * w, b + 72 * w, b + 200 * w];
    }

    private static int Align(ref int pos, int alignment)
    {
        pos = (pos + alignment - 1) / alignment * alignment;
        return pos;
    }

    private void WritePhdr(BuiltElf image, int o, uint type, uint flags, ulong offset, ulong vaddr, ulong filesz, ulong memsz, ulong align)
    {
        if (Is64)
        {
            image.WriteU32(o, type); image.WriteU32(o + 4, flags); image.WriteU64(o + 8, offset); image.WriteU64(o + 16, vaddr);
            image.WriteU64(o + 24, vaddr); image.WriteU64(o + 32, filesz); image.WriteU64(o + 40, memsz); image.WriteU64(o + 48, align);
        }
        else
        {
            image.WriteU32(o, type); image.WriteU32(o + 4, (uint)offset); image.WriteU32(o + 8, (uint)vaddr); image.WriteU32(o + 12, (uint)vaddr);
            image.WriteU32(o + 16, (uint)filesz); image.WriteU32(o + 20, (uint)memsz); image.WriteU32(o + 24, flags); image.WriteU32(o + 28, (uint)align);
        }
    }

    private void WriteShdr(BuiltElf image, int o, Section s, uint name)
    {
        image.WriteU32(o, name); image.WriteU32(o + 4, s.Type);
        if (Is64)
        {
            image.WriteU64(o + 8, s.Flags); image.WriteU64(o + 16, s.Address); image.WriteU64(o + 24, (ulong)s.Offset);
            image.WriteU64(o + 32, s.Size); image.WriteU32(o + 40, s.Link); image.WriteU32(o + 44, s.Info);
            image.WriteU64(o + 48, s.Align); image.WriteU64(o + 56, s.EntrySize);
        }
        else
        {
            image.WriteU32(o + 8, (uint)s.Flags); image.WriteU32(o + 12, (uint)s.Address); image.WriteU32(o + 16, (uint)s.Offset);
            image.WriteU32(o + 20, (uint)s.Size); image.WriteU32(o + 24, s.Link); image.WriteU32(o + 28, s.Info);
            image.WriteU32(o + 32, (uint)s.Align); image.WriteU32(o + 36, (uint)s.EntrySize);
        }
    }

    private static void WriteVerdef(BuiltElf image, int o, ushort flags, ushort ndx, uint hash, uint next, uint name)
    {
        image.WriteU16(o, 1); image.WriteU16(o + 2, flags); image.WriteU16(o + 4, ndx); image.WriteU16(o + 6, 1);
        image.WriteU32(o + 8, hash); image.WriteU32(o + 12, 20); image.WriteU32(o + 16, next);
        image.WriteU32(o + 20, name); image.WriteU32(o + 24, 0);
    }

    private void WriteRela(BuiltElf image, int o, TestRelocation r)
    {
        int w = WordSize;
        ulong info = Is64 ? ((ulong)r.SymbolIndex << 32) | r.Type : (r.SymbolIndex << 8) | (r.Type & 0xff);
        image.WriteWord(o, r.Offset);
        image.WriteWord(o + w, info);
        image.WriteWord(o + 2 * w, (ulong)r.Addend);
    }

    private sealed record Section(string Name, uint Type, ulong Flags, ulong Address, int Offset, ulong Size, uint Link, uint Info, ulong Align, ulong EntrySize);

    /// <summary>A string table under construction: "\0" first, each string once.</summary>
    private sealed class StringTableBuilder
    {
        private readonly List<byte> _bytes = [0];
        private readonly Dictionary<string, uint> _offsets = new() { [""] = 0 };

        public uint this[string s] => _offsets[s];

        public void Add(string s)
        {
            if (_offsets.ContainsKey(s))
                return;
            _offsets[s] = (uint)_bytes.Count;
            _bytes.AddRange(Encoding.UTF8.GetBytes(s));
            _bytes.Add(0);
        }

        public byte[] ToArray() => [.. _bytes];
    }
}

/// <summary>
/// A built image: its bytes, where everything lies, what was put in, and writers in the image's own
/// byte order and class for corrupting one field at a time.
/// </summary>
public sealed class BuiltElf(byte[] bytes, ElfLayout layout, bool is64, bool bigEndian,
    IReadOnlyList<TestSymbol> symbols, IReadOnlyList<TestRelocation> rela, IReadOnlyList<TestRelocation> jmprel,
    IReadOnlyList<ulong> relrAddresses, string soName, IReadOnlyList<string> needed, string? runPath)
{
    public byte[] Bytes { get; } = bytes;
    public ElfLayout Layout { get; } = layout;
    public bool Is64 { get; } = is64;
    public bool BigEndian { get; } = bigEndian;
    public int WordSize => Is64 ? 8 : 4;
    /// <summary>Index 0 is the null symbol.</summary>
    public IReadOnlyList<TestSymbol> Symbols { get; } = symbols;
    public IReadOnlyList<TestRelocation> Rela { get; } = rela;
    public IReadOnlyList<TestRelocation> JmpRel { get; } = jmprel;
    public IReadOnlyList<ulong> RelrAddresses { get; } = relrAddresses;
    public string SoName { get; } = soName;
    public IReadOnlyList<string> Needed { get; } = needed;
    public string? RunPath { get; } = runPath;

    /// <summary>The file offset of e_phoff, e_shoff, e_phnum... in this class.</summary>
    public int HeaderField(string name)
    {
        int w = WordSize, after = 24 + 3 * w;
        return name switch
        {
            "e_type" => 16, "e_machine" => 18, "e_version" => 20, "e_entry" => 24, "e_phoff" => 24 + w, "e_shoff" => 24 + 2 * w,
            "e_flags" => after, "e_ehsize" => after + 4, "e_phentsize" => after + 6, "e_phnum" => after + 8,
            "e_shentsize" => after + 10, "e_shnum" => after + 12, "e_shstrndx" => after + 14,
            _ => throw new ArgumentException(name, nameof(name)),
        };
    }

    public ElfFile Parse(string name = ElfImageBuilder.DefaultName) => ElfFile.Parse(Bytes, name);

    public ushort ReadU16(int o) => BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(Bytes.AsSpan(o)) : BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(o));
    public uint ReadU32(int o) => BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(Bytes.AsSpan(o)) : BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(o));
    public ulong ReadU64(int o) => BigEndian ? BinaryPrimitives.ReadUInt64BigEndian(Bytes.AsSpan(o)) : BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(o));
    public ulong ReadWord(int o) => Is64 ? ReadU64(o) : ReadU32(o);

    public void WriteU16(int o, ushort v)
    {
        if (BigEndian) BinaryPrimitives.WriteUInt16BigEndian(Bytes.AsSpan(o), v);
        else BinaryPrimitives.WriteUInt16LittleEndian(Bytes.AsSpan(o), v);
    }

    public void WriteU32(int o, uint v)
    {
        if (BigEndian) BinaryPrimitives.WriteUInt32BigEndian(Bytes.AsSpan(o), v);
        else BinaryPrimitives.WriteUInt32LittleEndian(Bytes.AsSpan(o), v);
    }

    public void WriteU64(int o, ulong v)
    {
        if (BigEndian) BinaryPrimitives.WriteUInt64BigEndian(Bytes.AsSpan(o), v);
        else BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan(o), v);
    }

    /// <summary>Writes an address-sized field (truncated to 32 bits for ELF32).</summary>
    public void WriteWord(int o, ulong v)
    {
        if (Is64) WriteU64(o, v);
        else WriteU32(o, (uint)v);
    }

    /// <summary>The file offset of the (last) dynamic entry with <paramref name="tag"/>, or -1.</summary>
    public int DynamicEntryOffset(DynamicTag tag)
    {
        int found = -1;
        for (int i = 0; i < Layout.DynamicCount; i++)
        {
            int o = Layout.DynamicOffset + i * Layout.DynamicEntrySize;
            long t = Is64 ? (long)ReadU64(o) : (int)ReadU32(o);
            if (t == (long)tag)
                found = o;
            if (t == 0)
                break;
        }
        return found;
    }

    /// <summary>Sets the value of the dynamic entry with <paramref name="tag"/>, which must exist.</summary>
    public void SetDynamic(DynamicTag tag, ulong value)
    {
        int o = DynamicEntryOffset(tag);
        if (o < 0)
            throw new ArgumentException($"no {tag} entry", nameof(tag));
        WriteWord(o + WordSize, value);
    }

    /// <summary>Turns the entry with <paramref name="tag"/> into a DT_DEBUG the reader ignores.</summary>
    public void RemoveDynamic(DynamicTag tag)
    {
        int o = DynamicEntryOffset(tag);
        if (o < 0)
            throw new ArgumentException($"no {tag} entry", nameof(tag));
        WriteWord(o, (ulong)DynamicTag.Debug);
        WriteWord(o + WordSize, 0);
    }

    /// <summary>Appends an entry before the terminating DT_NULL (the builder leaves room).</summary>
    public void AddDynamic(DynamicTag tag, ulong value)
    {
        int o = DynamicEntryOffset(DynamicTag.Null);
        if (o < 0 || o + 2 * Layout.DynamicEntrySize > Layout.DynamicOffset + Layout.DynamicCount * Layout.DynamicEntrySize)
            throw new InvalidOperationException("no room in the dynamic section");
        WriteWord(o, (ulong)(long)tag);
        WriteWord(o + WordSize, value);
    }

    /// <summary>The symbol index of <paramref name="name"/> as laid out.</summary>
    public int SymbolIndex(string name) => Symbols.ToList().FindIndex(s => s.Name == name);

    /// <summary>A copy cut to <paramref name="length"/> bytes.</summary>
    public byte[] Truncated(int length) => Bytes.AsSpan(0, length).ToArray();
}
