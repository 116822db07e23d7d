using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary>
/// Bad input is refused with an <see cref="ElfFormatException"/> naming the file and the field, never another
/// exception and never a hang. Each case corrupts one field of the builder's valid image.
/// </summary>
public class MalformedInputTests
{
    private const string Name = "corrupt.so";
    internal const string ZlibPath = "/usr/lib/x86_64-linux-gnu/libz.so.1";

    private static BuiltElf Build(Action<ElfImageBuilder>? configure = null)
    {
        var builder = new ElfImageBuilder();
        configure?.Invoke(builder);
        return builder.Build();
    }

    private static ElfFormatException Refused(BuiltElf image, params string[] fields) =>
        ElfReadAll.AssertRefused(image.Bytes, Name, fields);

    /// <summary>A small real library: the system's zlib (on every machine of this kind).</summary>
    internal static (string Name, byte[] Bytes) RealLibrary() => ("libz.so.1", File.ReadAllBytes(ZlibPath));

    // ---------------- Truncation ----------------

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void Truncation_AtEveryLength_IsRefusedCleanly(bool is64, bool sectionHeaders)
    {
        var image = Build(b => { b.Is64 = is64; b.SectionHeaders = sectionHeaders; });
        var failures = new List<string>();
        for (int length = 0; length < image.Bytes.Length; length++)
        {
            var e = ElfReadAll.ParseAndReadAll(image.Bytes.AsMemory(0, length), Name);
            if (e is not ElfFormatException || !ElfReadAll.IsCleanOutcome(e, Name, out _))
                failures.Add($"cut at {length}: {e?.GetType().Name ?? "parsed"}: {e?.Message}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.Null(ElfReadAll.ParseAndReadAll(image.Bytes, Name));
    }

    [Theory]
    [InlineData(0, "e_ident")]
    [InlineData(4, "e_ident")]
    [InlineData(15, "e_ident")]
    [InlineData(16, "ELF header")]
    [InlineData(51, "ELF header")]
    [InlineData(63, "ELF header")]
    public void Truncation_InsideTheElfHeader_NamesIt(int length, string field)
    {
        var image = Build();
        var e = ElfReadAll.AssertRefused(image.Truncated(length), Name, field);
        Assert.Contains($"{length} bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncation_OfTheProgramAndDynamicParts_NamesThePartCutOff()
    {
        var image = Build(b => b.SectionHeaders = false);
        var l = image.Layout;
        ElfReadAll.AssertRefused(image.Truncated(l.PhdrOffset), Name, "e_phoff");
        ElfReadAll.AssertRefused(image.Truncated(l.PhdrOffset + l.PhdrEntrySize + 7), Name, "e_phoff");
        ElfReadAll.AssertRefused(image.Truncated(l.PhdrOffset + l.PhdrCount * l.PhdrEntrySize), Name, "PT_LOAD[0] p_offset");
        ElfReadAll.AssertRefused(image.Truncated(l.DynamicOffset + 3 * l.DynamicEntrySize + 1), Name, "PT_LOAD[1] p_offset");
        ElfReadAll.AssertRefused(image.Truncated(image.Bytes.Length - 1), Name, "PT_LOAD[1] p_offset");

        var withSections = Build();
        var s = withSections.Layout;
        ElfReadAll.AssertRefused(withSections.Truncated(s.DynamicOffset + 8), Name, "e_shoff");
        ElfReadAll.AssertRefused(withSections.Truncated(s.ShdrOffset + 3), Name, "e_shoff");
        ElfReadAll.AssertRefused(withSections.Truncated(s.ShdrOffset + s.ShdrEntrySize + 3), Name, "e_shnum");
    }

    [Fact]
    public void Truncation_OfARealLibrary_AtHeaderBoundariesAndEvery97Bytes_IsRefusedCleanly()
    {
        var (name, bytes) = RealLibrary();
        var elf = ElfFile.Parse(bytes, name);
        ulong phoff = elf.Header.ProgramHeaderOffset, shoff = elf.Header.SectionHeaderOffset;
        var dynamic = elf.ProgramHeaders.First(p => p.Type == SegmentType.Dynamic);
        var cuts = new SortedSet<int> { 0, 1, 4, 15, 16, 51, 52, 63, 64, (int)phoff, (int)phoff + 1, (int)phoff + 56 + 20,
            (int)phoff + elf.ProgramHeaderCount * 56, (int)dynamic.Offset, (int)dynamic.Offset + 8, (int)(dynamic.Offset + dynamic.FileSize) - 1,
            (int)shoff, (int)shoff + 1, (int)shoff + 64 + 5, bytes.Length - 1 };
        for (int i = 0; i < bytes.Length; i += 97)
            cuts.Add(i);
        var failures = new List<string>();
        foreach (int cut in cuts)
        {
            var e = ElfReadAll.ParseAndReadAll(bytes.AsMemory(0, cut), name);
            if (e is not ElfFormatException || !ElfReadAll.IsCleanOutcome(e, name, out _))
                failures.Add($"{name} cut at {cut}: {e?.GetType().Name ?? "parsed"}: {e?.Message}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.Null(ElfReadAll.ParseAndReadAll(bytes, name));
    }

    // ---------------- e_ident ----------------

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void BadMagic_IsRefused(int index)
    {
        var image = Build();
        image.Bytes[index] ^= 0x20;
        var e = Refused(image, "e_ident[EI_MAG]");
        Assert.Equal(0ul, e.Offset);
    }

    [Theory]
    [InlineData(4, (byte)0, "e_ident[EI_CLASS]")]
    [InlineData(4, (byte)3, "e_ident[EI_CLASS]")]
    [InlineData(5, (byte)0, "e_ident[EI_DATA]")]
    [InlineData(5, (byte)3, "e_ident[EI_DATA]")]
    [InlineData(6, (byte)0, "e_ident[EI_VERSION]")]
    [InlineData(6, (byte)2, "e_ident[EI_VERSION]")]
    public void BadIdentByte_IsRefused(int index, byte value, string field)
    {
        var image = Build();
        image.Bytes[index] = value;
        var e = Refused(image, field);
        Assert.Equal((ulong)index, e.Offset);
    }

    // ---------------- Header fields ----------------

    [Fact]
    public void EhsizeTooSmall_IsRefused()
    {
        var image = Build();
        image.WriteU16(image.HeaderField("e_ehsize"), 40);
        Refused(image, "e_ehsize");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PhoffPastTheEnd_IsRefused(bool sectionHeaders)
    {
        var image = Build(b => b.SectionHeaders = sectionHeaders);
        image.WriteWord(image.HeaderField("e_phoff"), (ulong)image.Bytes.Length + 8);
        var e = Refused(image, "e_phoff");
        Assert.Equal((ulong)image.Bytes.Length + 8, e.Offset);
        image.WriteWord(image.HeaderField("e_phoff"), ulong.MaxValue - 8);
        Refused(image, "e_phoff");
    }

    [Fact]
    public void ShoffPastTheEnd_IsRefused()
    {
        var image = Build();
        image.WriteWord(image.HeaderField("e_shoff"), (ulong)image.Bytes.Length);
        Refused(image, "e_shoff");
        image.WriteWord(image.HeaderField("e_shoff"), ulong.MaxValue);
        Refused(image, "e_shoff");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PhnumRunningPastTheEnd_IsRefused(bool is64)
    {
        var image = Build(b => { b.Is64 = is64; b.SectionHeaders = false; });
        image.WriteU16(image.HeaderField("e_phnum"), 0xfffe);
        Refused(image, "e_phoff", "e_phnum");
    }

    [Fact]
    public void PhnumXnum_WithoutSectionZero_IsRefused()
    {
        var image = Build(b => b.SectionHeaders = false);
        image.WriteU16(image.HeaderField("e_phnum"), 0xffff);
        var e = Refused(image, "e_phnum");
        Assert.Contains("PN_XNUM", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PhnumXnum_WithAHugeCountInSectionZero_IsRefused()
    {
        var image = Build(b => b.PhnumInSection0 = true);
        image.WriteU32(image.Layout.ShdrOffset + 44, 0x7fff_ffff); // section 0 sh_info
        Refused(image, "e_phoff", "e_phnum");
    }

    [Fact]
    public void ShnumRunningPastTheEnd_IsRefused()
    {
        var image = Build();
        image.WriteU16(image.HeaderField("e_shnum"), 0x7fff);
        Refused(image, "e_shnum");
    }

    [Fact]
    public void ShnumInSectionZero_Huge_IsRefused()
    {
        var image = Build(b => b.ShnumInSection0 = true);
        image.WriteU64(image.Layout.ShdrOffset + 32, ulong.MaxValue); // section 0 sh_size
        Refused(image, "e_shnum (section 0 sh_size)");
    }

    [Theory]
    [InlineData(true, 0x36)]
    [InlineData(false, 0x2a)]
    public void PhentsizeDisagreeingWithTheStruct_IsRefused(bool is64, ulong fieldOffset)
    {
        var image = Build(b => b.Is64 = is64);
        image.WriteU16(image.HeaderField("e_phentsize"), (ushort)(image.Layout.PhdrEntrySize - 1));
        var e = Refused(image, "e_phentsize");
        Assert.Equal(fieldOffset, e.Offset);
    }

    [Theory]
    [InlineData(true, 0x3a)]
    [InlineData(false, 0x2e)]
    public void ShentsizeDisagreeingWithTheStruct_IsRefused(bool is64, ulong fieldOffset)
    {
        var image = Build(b => b.Is64 = is64);
        image.WriteU16(image.HeaderField("e_shentsize"), (ushort)(image.Layout.ShdrEntrySize + 8));
        var e = Refused(image, "e_shentsize");
        Assert.Equal((ulong)image.HeaderField("e_shentsize"), fieldOffset);
        Assert.Equal(fieldOffset, e.Offset); // the offset of e_shentsize itself, in either class
    }

    [Fact]
    public void ShstrndxPastTheSections_IsRefused()
    {
        var image = Build();
        image.WriteU16(image.HeaderField("e_shstrndx"), 200);
        Refused(image, "e_shstrndx");
    }

    [Fact]
    public void ShstrtabRunningPastTheEnd_IsRefused()
    {
        var image = Build();
        int shstrtab = image.Layout.ShdrOffset + (image.Layout.SectionCount - 1) * image.Layout.ShdrEntrySize;
        image.WriteU64(shstrtab + 32, 0x10_0000); // sh_size
        Refused(image, "e_shstrndx sh_offset");
    }

    [Fact]
    public void ShstrtabOfTypeNobits_PastTheEnd_IsRefused()
    {
        // SHT_NOBITS skips the range check, then the name table is sliced from sh_offset/sh_size anyway.
        var image = Build();
        int shstrtab = image.Layout.ShdrOffset + (image.Layout.SectionCount - 1) * image.Layout.ShdrEntrySize;
        image.WriteU32(shstrtab + 4, (uint)SectionType.NoBits);
        image.WriteU64(shstrtab + 24, 0x10_0000); // sh_offset
        Refused(image, "e_shstrndx", "e_shstrndx sh_offset", "e_shstrndx sh_type");
    }

    [Fact]
    public void SectionNameUnterminated_IsRefused()
    {
        var image = Build();
        int shstrtab = image.Layout.ShdrOffset + (image.Layout.SectionCount - 1) * image.Layout.ShdrEntrySize;
        image.Bytes[image.Layout.ShstrtabOffset + image.Layout.ShstrtabSize - 1] = (byte)'x';
        _ = shstrtab;
        Refused(image, ".shstrtab");
    }

    // ---------------- Segments ----------------

    [Fact]
    public void PtLoadFileRangePastTheEnd_IsRefused()
    {
        var image = Build();
        image.WriteU64(image.Layout.PhdrOffset + image.Layout.PhdrEntrySize + 32, 0x10_0000); // LOAD1 p_filesz
        Refused(image, "PT_LOAD[1] p_offset");
    }

    [Fact]
    public void PtDynamicPastTheEnd_IsRefused()
    {
        var image = Build();
        int dyn = image.Layout.PhdrOffset + 2 * image.Layout.PhdrEntrySize;
        image.WriteU64(dyn + 8, ulong.MaxValue - 4); // p_offset
        Refused(image, "PT_DYNAMIC p_offset");
    }

    [Fact]
    public void PtDynamicSizeNotAMultipleOfTheEntry_IsRefused()
    {
        var image = Build();
        int dyn = image.Layout.PhdrOffset + 2 * image.Layout.PhdrEntrySize;
        image.WriteU64(dyn + 32, 17); // p_filesz
        Refused(image, "PT_DYNAMIC p_filesz");
    }

    [Fact]
    public void NoteRunningPastItsSegment_IsRefused()
    {
        var image = Build();
        image.WriteU32(image.Layout.NoteOffset + 4, 0xffff_fff0); // descsz
        Refused(image, "Elf_Nhdr");
    }

    // ---------------- Strings ----------------

    [Fact]
    public void StrtabOutsideEverySegment_IsRefused()
    {
        var image = Build();
        image.SetDynamic(DynamicTag.StrTab, 0x9f000);
        var e = Refused(image, "DT_STRTAB");
        Assert.Equal(0x9f000ul, e.Offset);
        Assert.Contains("0x9f000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StrszPastItsSegment_IsRefused()
    {
        var image = Build();
        image.SetDynamic(DynamicTag.StrSz, 0x10_0000);
        Refused(image, "DT_STRTAB");
    }

    [Fact]
    public void StrtabMissing_IsRefused()
    {
        var image = Build();
        image.RemoveDynamic(DynamicTag.StrTab);
        Refused(image, "DT_STRTAB");
    }

    [Fact]
    public void StrszMissing_IsRefused()
    {
        var image = Build();
        image.RemoveDynamic(DynamicTag.StrSz);
        Refused(image, "DT_STRSZ");
    }

    [Fact]
    public void SonameRunningToTheEndOfDtStrszWithoutNul_IsRefused()
    {
        var image = Build();
        // The soname is the first string (offset 1): cut DT_STRSZ just before its NUL.
        image.SetDynamic(DynamicTag.StrSz, (ulong)(1 + image.SoName.Length));
        var e = Refused(image, "DT_STRTAB");
        Assert.Contains("NUL", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NeededRunningToTheEndOfDtStrszWithoutNul_IsRefused()
    {
        var image = Build(b => { b.SoName = "z"; b.RunPath = null; });
        // Strings: "\0" "z\0" "libc.so.6\0" ...: cut DT_STRSZ inside "libc.so.6".
        image.SetDynamic(DynamicTag.StrSz, 3 + 4);
        var e = Refused(image, "DT_STRTAB");
        Assert.Contains("NUL", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SymbolNameRunningToTheEndOfDtStrszWithoutNul_IsRefusedWhenRead()
    {
        // Without versions nothing reads the later strings while parsing: the symbol name is checked lazily.
        var image = Build(b => { b.Versions = false; b.RunPath = null; });
        string last = "zeta_with_a_longer_name";
        int start = FindString(image, last);
        image.SetDynamic(DynamicTag.StrSz, (ulong)(start + 5));
        var elf = image.Parse(Name);
        var e = Assert.Throws<ElfFormatException>(() => elf.DynamicSymbols!.GetName(image.SymbolIndex(last)));
        Assert.Equal("DT_STRTAB", e.Field);
        Assert.Equal(Name, e.FileName);
        Assert.Contains("NUL", e.Message, StringComparison.Ordinal);
        // And the lookup by name (which compares names through the hash) refuses the same way.
        Assert.Throws<ElfFormatException>(() => ElfReadAll.ReadEverything(elf));
    }

    [Fact]
    public void SymbolNameOffsetPastDtStrsz_IsRefusedWhenRead()
    {
        var image = Build();
        int alpha = image.SymbolIndex("alpha");
        image.WriteU32(image.Layout.DynsymOffset + alpha * image.Layout.SymbolEntrySize, 0x7fff_0000);
        var elf = image.Parse(Name);
        var e = Assert.Throws<ElfFormatException>(() => elf.DynamicSymbols!.GetName(alpha));
        Assert.Equal("DT_STRTAB", e.Field);
    }

    [Fact]
    public void SonameOffsetBeyond32Bits_IsRefused()
    {
        // BUG: ElfFile.ReadDynamic does checked((uint)soname): an OverflowException escapes.
        var image = Build();
        image.SetDynamic(DynamicTag.SoName, 0x1_0000_0001);
        Refused(image, "DT_SONAME", "DT_STRTAB");
    }

    [Fact]
    public void NeededOffsetBeyond32Bits_IsRefused()
    {
        // BUG: (uint)needed truncates 0x1_0000_0001 to 1 and silently reads the soname as a DT_NEEDED.
        var image = Build();
        image.SetDynamic(DynamicTag.Needed, 0x1_0000_0001);
        Refused(image, "DT_NEEDED", "DT_STRTAB");
    }

    [Fact]
    public void RunpathWithoutStrtab_IsRefusedNamingTheFile()
    {
        // BUG: DT_RUNPATH/DT_RPATH are not in the "names strings but has no DT_STRTAB" check, so the
        // default StringTable throws an ElfFormatException whose FileName and Field are null.
        var image = Build(b => { b.SectionHeaders = false; b.RunPath = null; });
        image.RemoveDynamic(DynamicTag.SymTab);
        image.RemoveDynamic(DynamicTag.SoName);
        image.RemoveDynamic(DynamicTag.Needed);
        image.RemoveDynamic(DynamicTag.Needed);
        image.RemoveDynamic(DynamicTag.StrTab);
        image.RemoveDynamic(DynamicTag.Rela);
        image.RemoveDynamic(DynamicTag.JmpRel);
        image.AddDynamic(DynamicTag.RunPath, 1);
        Refused(image, "DT_STRTAB", "DT_RUNPATH");
    }

    // ---------------- Hash tables ----------------

    [Fact]
    public void GnuHashChainThatNeverEnds_IsRefused()
    {
        var image = Build(b => b.Hashes = HashStyle.Gnu);
        var l = image.Layout;
        int chains = l.GnuHashOffset + 16 + 2 * 8 + 3 * 4;
        for (int o = chains; o < l.GnuHashOffset + l.GnuHashSize; o += 4)
            image.WriteU32(o, image.ReadU32(o) & ~1u);
        // End LOAD0 right after the table, so nothing after it can end the chain by chance.
        image.WriteU64(l.PhdrOffset + 32, (ulong)(l.GnuHashOffset + l.GnuHashSize));
        var e = Refused(image, "DT_GNU_HASH chain");
        Assert.Contains("never ends", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(6u)]
    [InlineData(0x8000_0001u)]
    public void GnuHashBloomSizeNotAPowerOfTwo_IsRefused(uint bloomSize)
    {
        var image = Build();
        image.WriteU32(image.Layout.GnuHashOffset + 8, bloomSize);
        var e = Refused(image, "DT_GNU_HASH bloom_size");
        Assert.Contains(bloomSize.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GnuHashZeroBuckets_IsRefused()
    {
        var image = Build();
        image.WriteU32(image.Layout.GnuHashOffset, 0);
        Refused(image, "DT_GNU_HASH nbuckets");
    }

    [Fact]
    public void GnuHashBucketsPastTheSegment_IsRefused()
    {
        var image = Build();
        image.WriteU32(image.Layout.GnuHashOffset, 0x4000_0000);
        Refused(image, "DT_GNU_HASH");
        image.WriteU32(image.Layout.GnuHashOffset, 3);
        image.WriteU32(image.Layout.GnuHashOffset + 8, 0x8000_0000);
        Refused(image, "DT_GNU_HASH");
    }

    [Fact]
    public void GnuHashBucketBelowSymoffset_IsRefused()
    {
        var image = Build();
        int buckets = image.Layout.GnuHashOffset + 16 + 2 * 8;
        image.WriteU32(buckets, 1);
        Refused(image, "DT_GNU_HASH bucket");
    }

    [Fact]
    public void GnuHashSymoffsetBeyondInt32_IsRefused()
    {
        // BUG: symoffset and buckets of 0x80000000 make the implied symbol count (int)(index + 1) negative;
        // the chain slice is then empty and GnuHashTable.Find reads past it (ArgumentOutOfRangeException).
        var image = Build(b => b.Hashes = HashStyle.Gnu);
        var l = image.Layout;
        int buckets = l.GnuHashOffset + 16 + 2 * 8;
        image.WriteU32(l.GnuHashOffset + 4, 0x8000_0000);
        for (int i = 0; i < 3; i++)
            image.WriteU32(buckets + i * 4, 0x8000_0000);
        image.WriteU32(buckets + 12, 0); // chain[0]: not the end, and matches no name
        Refused(image, "DT_GNU_HASH", "DT_GNU_HASH chain", "DT_GNU_HASH symoffset", "DT_GNU_HASH bucket", "DT_SYMTAB");
    }

    [Fact]
    public void SysvHashZeroBuckets_IsRefused()
    {
        var image = Build();
        image.WriteU32(image.Layout.HashOffset, 0);
        Refused(image, "DT_HASH nbucket");
    }

    [Fact]
    public void SysvHashPastTheSegment_IsRefused()
    {
        var image = Build();
        image.WriteU32(image.Layout.HashOffset + 4, 0x1000_0000); // nchain
        Refused(image, "DT_HASH");
        image.SetDynamic(DynamicTag.Hash, 0x7_0000);
        Refused(image, "DT_HASH");
    }

    [Fact]
    public void SysvHashChainThatLoops_IsRefusedNotAHang()
    {
        var image = Build(b => b.Hashes = HashStyle.Sysv);
        const string absent = "no_such_symbol_anywhere";
        int bucketsAt = image.Layout.HashOffset + 8, chainsAt = bucketsAt + 5 * 4;
        int bucket = bucketsAt + (int)(ElfImageBuilder.SysvHash(absent) % 5) * 4;
        // The bucket's chain: head → second → head ... (or head → head when the bucket is short).
        uint head = image.ReadU32(bucket);
        if (head == 0)
        {
            head = 3;
            image.WriteU32(bucket, head);
        }
        image.WriteU32(chainsAt + (int)head * 4, head);
        var elf = image.Parse(Name);
        var e = ElfReadAll.WithTimeout(() => Record.Exception(() => elf.FindDefinedSymbol(absent)), 5, () => "DT_HASH loop lookup");
        var format = Assert.IsType<ElfFormatException>(e);
        Assert.Equal("DT_HASH chain", format.Field);
        Assert.Contains("loops", format.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SysvHashChainLeavingTheTable_IsRefused()
    {
        var image = Build(b => b.Hashes = HashStyle.Sysv);
        int chainsAt = image.Layout.HashOffset + 8 + 5 * 4;
        for (int i = 1; i < image.Symbols.Count; i++)
            image.WriteU32(chainsAt + i * 4, 1000);
        var e = ElfReadAll.WithTimeout(() => Record.Exception(() => ElfReadAll.ReadEverything(image.Parse(Name))), 5, () => "DT_HASH lookup");
        Assert.Equal("DT_HASH chain", Assert.IsType<ElfFormatException>(e).Field);
    }

    // ---------------- Symbols ----------------

    [Fact]
    public void SymtabOutsideEverySegment_IsRefused()
    {
        var image = Build();
        image.SetDynamic(DynamicTag.SymTab, 0x5_0000);
        Refused(image, "DT_SYMTAB");
    }

    [Theory]
    [InlineData(16ul)]
    [InlineData(0ul)]
    [InlineData(ulong.MaxValue)]
    public void SymentWrong_IsRefused(ulong value)
    {
        var image = Build();
        image.SetDynamic(DynamicTag.SymEnt, value);
        Refused(image, "DT_SYMENT");
    }

    // ---------------- Relocations ----------------

    [Fact]
    public void RelocationSymbolIndexPastTheTable_IsRefused()
    {
        var image = Build();
        var l = image.Layout;
        image.WriteU64(l.RelaOffset + l.RelaEntrySize + 8, (1000ul << 32) | ElfImageBuilder.R_X86_64_GLOB_DAT);
        var e = Refused(image, "DT_RELA r_info");
        Assert.Contains("1000", e.Message, StringComparison.Ordinal);
        Assert.Equal((ulong)(l.RelaOffset + l.RelaEntrySize), e.Offset);
    }

    [Fact]
    public void JmprelSymbolIndexPastTheTable_IsRefused()
    {
        var image = Build();
        image.WriteU64(image.Layout.JmprelOffset + 8, (0xffff_fffful << 32) | ElfImageBuilder.R_X86_64_JUMP_SLOT);
        Refused(image, "DT_JMPREL r_info");
    }

    [Theory]
    [InlineData(16ul)]
    [InlineData(0ul)]
    [InlineData(25ul)]
    public void RelaentWrong_IsRefused(ulong value)
    {
        var image = Build();
        image.SetDynamic(DynamicTag.RelaEnt, value);
        Refused(image, "DT_RELAENT");
    }

    [Fact]
    public void RelaszNotAMultipleOfTheEntry_IsRefused()
    {
        var image = Build();
        image.SetDynamic(DynamicTag.RelaSz, 25);
        Refused(image, "DT_RELASZ");
    }

    [Fact]
    public void RelaPastItsSegment_IsRefused()
    {
        var image = Build();
        image.SetDynamic(DynamicTag.RelaSz, 24 * 0x10000);
        Refused(image, "DT_RELA");
        image.SetDynamic(DynamicTag.RelaSz, 24 * 3);
        image.SetDynamic(DynamicTag.Rela, ulong.MaxValue - 7);
        Refused(image, "DT_RELA");
    }

    [Fact]
    public void JmprelPastItsSegment_IsRefused()
    {
        var image = Build();
        image.SetDynamic(DynamicTag.JmpRel, 0x8_0000);
        Refused(image, "DT_JMPREL");
    }

    [Fact]
    public void PltrelNeitherRelNorRela_IsRefused()
    {
        var image = Build();
        image.SetDynamic(DynamicTag.PltRel, 5);
        Refused(image, "DT_PLTREL");
    }

    [Fact]
    public void RelrBitmapBeforeAnyAddress_IsRefused()
    {
        var image = Build();
        image.WriteU64(image.Layout.RelrOffset, 0xff);
        var e = Refused(image, "DT_RELR");
        Assert.Equal((ulong)image.Layout.RelrOffset, e.Offset);
        Assert.Contains("bitmap", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DynamicTag.RelrEnt, 4ul, "DT_RELRENT")]
    [InlineData(DynamicTag.RelrEnt, 0ul, "DT_RELRENT")]
    [InlineData(DynamicTag.RelrSz, 13ul, "DT_RELRSZ")]
    [InlineData(DynamicTag.RelrSz, 0x8_0000ul, "DT_RELR")]
    [InlineData(DynamicTag.Relr, 0x9_0000ul, "DT_RELR")]
    public void RelrTagsWrong_AreRefused(DynamicTag tag, ulong value, string field)
    {
        var image = Build();
        image.SetDynamic(tag, value);
        Refused(image, field);
    }

    // ---------------- Versions ----------------

    [Fact]
    public void VerdefChainRunningPastTheSegment_IsRefused()
    {
        var image = Build();
        image.WriteU32(image.Layout.VerdefOffset + 16, 0x10_0000); // vd_next of the first entry
        Refused(image, "DT_VERDEF");
    }

    [Fact]
    public void VerdefCountLargerThanTheChain_IsRefused()
    {
        var image = Build();
        image.WriteU32(image.Layout.VerdefOffset + 28 + 16, 28); // second vd_next: keep going...
        image.SetDynamic(DynamicTag.VerDefNum, 0xffff_ffff);       // ...for ever: bounded by the segment
        var e = ElfReadAll.WithTimeout(() => ElfReadAll.ParseAndReadAll(image.Bytes, Name), 5, () => "DT_VERDEF walk");
        Assert.IsType<ElfFormatException>(e);
        Assert.StartsWith("DT_VERDEF", ((ElfFormatException)e!).Field, StringComparison.Ordinal);
    }

    [Fact]
    public void VerdefAuxPastTheSegment_IsRefused()
    {
        var image = Build();
        image.WriteU32(image.Layout.VerdefOffset + 12, 0xffff_0000); // vd_aux
        Refused(image, "DT_VERDEF vd_aux");
    }

    [Fact]
    public void VerdefWrongVersion_IsRefused()
    {
        var image = Build();
        image.WriteU16(image.Layout.VerdefOffset, 2);
        Refused(image, "DT_VERDEF vd_version");
    }

    [Fact]
    public void VerneedChainRunningPastTheSegment_IsRefused()
    {
        var image = Build();
        image.WriteU32(image.Layout.VerneedOffset + 12, 0x10_0000); // vn_next
        image.SetDynamic(DynamicTag.VerNeedNum, 2);
        Refused(image, "DT_VERNEED");
    }

    [Fact]
    public void VerneedAuxPastTheSegment_IsRefused()
    {
        var image = Build();
        image.WriteU32(image.Layout.VerneedOffset + 8, 0x7fff_fff0); // vn_aux
        Refused(image, "DT_VERNEED vn_aux");
    }

    [Fact]
    public void VerneedFileNameOutsideTheStringTable_IsRefused()
    {
        var image = Build();
        image.WriteU32(image.Layout.VerneedOffset + 4, 0x10_0000); // vn_file
        Refused(image, "DT_STRTAB");
    }

    [Fact]
    public void VersymOutsideEverySegment_IsRefused()
    {
        var image = Build();
        image.SetDynamic(DynamicTag.VerSym, 0x6_0000);
        Refused(image, "DT_VERSYM");
    }

    private static int FindString(BuiltElf image, string s)
    {
        var table = image.Bytes.AsSpan(image.Layout.DynstrOffset, image.Layout.DynstrSize);
        int at = table.IndexOf(System.Text.Encoding.UTF8.GetBytes(s + "\0"));
        Assert.True(at > 0, s);
        return at;
    }
}
