using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary>Malformed input, continued: string tables, hash tables and symbol indices.</summary>
public partial class MalformedInputTests
{
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

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)] // the last of the builder's three
    public void GnuHashBucketBelowSymoffset_IsRefused_NamingTheBucket(int bucket)
    {
        var image = Build();
        int buckets = image.Layout.GnuHashOffset + 16 + 2 * 8;
        image.WriteU32(buckets + bucket * 4, 1);
        var e = Refused(image, "DT_GNU_HASH bucket");
        Assert.Contains($"bucket {bucket} starts at symbol 1, below symoffset", e.Message, StringComparison.Ordinal);
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
}
