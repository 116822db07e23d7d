using Loader.Elf;
using Loader.Tests.Oracles;

namespace Loader.Tests.Elf;

/// <summary>Valid but unusual files that must parse, and read back what they hold.</summary>
public class EdgeCaseTests
{
    private const string Name = "edge.so";

    private static BuiltElf Build(Action<ElfImageBuilder>? configure = null)
    {
        var builder = new ElfImageBuilder();
        configure?.Invoke(builder);
        return builder.Build();
    }

    // ---------------- Extended numbering ----------------

    [Fact]
    public void PhnumXnum_TakesTheCountFromSectionZeroShInfo()
    {
        var image = Build(b => b.PhnumInSection0 = true);
        var elf = image.Parse(Name);
        Assert.Equal(ElfHeader.PN_XNUM, elf.Header.ProgramHeaderCount);
        Assert.Equal(image.Layout.PhdrCount, elf.ProgramHeaderCount);
        BuiltElfAssert.ReadsBack(image, elf);
    }

    [Fact]
    public void ShnumZero_TakesTheCountFromSectionZeroShSize()
    {
        var image = Build(b => b.ShnumInSection0 = true);
        var elf = image.Parse(Name);
        Assert.Equal(0, elf.Header.SectionHeaderCount);
        Assert.Equal(image.Layout.SectionCount, elf.SectionCount);
        Assert.Equal(".shstrtab", elf.Sections[^1].Name);
        BuiltElfAssert.ReadsBack(image, elf);
    }

    [Fact]
    public void ShstrndxXindex_TakesTheIndexFromSectionZeroShLink()
    {
        var image = Build(b => b.ShstrndxInSection0 = true);
        var elf = image.Parse(Name);
        Assert.Equal(ElfHeader.SHN_XINDEX, elf.Header.SectionNameTableIndex);
        Assert.Equal(image.Layout.SectionCount - 1, elf.SectionNameTableIndex);
        Assert.Equal([".dynsym", ".dynstr"], elf.Sections.Where(s => s.Name.StartsWith(".dyns", StringComparison.Ordinal)).Select(s => s.Name));
        BuiltElfAssert.ReadsBack(image, elf);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void AllThreeEscapesAtOnce_InEveryClassAndByteOrder(bool is64, bool bigEndian)
    {
        var image = Build(b => { b.Is64 = is64; b.BigEndian = bigEndian; b.PhnumInSection0 = b.ShnumInSection0 = b.ShstrndxInSection0 = true; });
        var elf = image.Parse(Name);
        Assert.Equal((image.Layout.PhdrCount, image.Layout.SectionCount, image.Layout.SectionCount - 1),
            (elf.ProgramHeaderCount, elf.SectionCount, elf.SectionNameTableIndex));
        BuiltElfAssert.ReadsBack(image, elf);
    }

    // ---------------- No section headers ----------------

    [Theory]
    [InlineData(HashStyle.Gnu)]
    [InlineData(HashStyle.Sysv)]
    [InlineData(HashStyle.Both)]
    public void NoSectionHeaders_EverythingIsFoundFromPtDynamic(HashStyle hashes)
    {
        var image = Build(b => { b.SectionHeaders = false; b.Hashes = hashes; });
        var elf = image.Parse(Name);
        Assert.Equal(0ul, elf.Header.SectionHeaderOffset);
        Assert.Empty(elf.Sections);
        Assert.Equal(0, elf.SectionNameTableIndex);
        BuiltElfAssert.ReadsBack(image, elf);
    }

    [Fact]
    public void NoSectionHeaders_GnuHashOnly_CountsSymbolsFromTheLastChain()
    {
        var image = Build(b => { b.SectionHeaders = false; b.Hashes = HashStyle.Gnu; });
        var elf = image.Parse(Name);
        Assert.Null(elf.SysvHash);
        Assert.Equal(image.Symbols.Count, elf.GnuHash!.SymbolCount);
        Assert.Equal(image.Symbols.Count, elf.DynamicSymbols!.Count);
    }

    [Fact]
    public void NoSectionHeaders_SysvHashOnly_CountsSymbolsFromNchain()
    {
        var image = Build(b => { b.SectionHeaders = false; b.Hashes = HashStyle.Sysv; });
        var elf = image.Parse(Name);
        Assert.Null(elf.GnuHash);
        Assert.Equal((uint)image.Symbols.Count, elf.SysvHash!.ChainCount);
        Assert.Equal(image.Symbols.Count, elf.DynamicSymbols!.Count);
    }

    [Fact]
    public void NoSectionHeaders_GnuHashWithEmptyBuckets_CountsUpToSymoffset()
    {
        // Every bucket empty: the hashed part is empty and symoffset is the count (the undefined symbols only).
        var image = Build(b => { b.SectionHeaders = false; b.Hashes = HashStyle.Gnu; b.Versions = false; });
        int buckets = image.Layout.GnuHashOffset + 16 + 2 * 8;
        for (int i = 0; i < 3; i++)
            image.WriteU32(buckets + i * 4, 0);
        // Relocations naming defined symbols would now be past the table: keep only the ones below symoffset.
        image.RemoveDynamic(DynamicTag.Rela);
        var elf = image.Parse(Name);
        int symoffset = (int)elf.GnuHash!.SymbolOffset;
        Assert.Equal(symoffset, elf.DynamicSymbols!.Count);
        Assert.Equal(-1, elf.FindDefinedSymbol("alpha"));
        ElfReadAll.ReadEverything(elf);
    }

    // ---------------- Classes and byte orders ----------------

    [Fact]
    public void AllFourClassAndByteOrderVariants_ReadBackTheSameContent()
    {
        var le64 = Build().Parse("le64.so");
        var be64 = Build(b => b.BigEndian = true).Parse("be64.so");
        var le32 = Build(b => b.Is64 = false).Parse("le32.so");
        var be32 = Build(b => { b.Is64 = false; b.BigEndian = true; }).Parse("be32.so");

        // The same layout in both byte orders: every value is identical.
        Assert.Equal(Describe(le64, withAddresses: true), Describe(be64, withAddresses: true));
        Assert.Equal(Describe(le32, withAddresses: true), Describe(be32, withAddresses: true));
        // Across classes, addresses move with the struct sizes; everything else is the same.
        Assert.Equal(Describe(le64, withAddresses: false), Describe(le32, withAddresses: false));
        Assert.Equal(ElfData.BigEndian, be32.Header.Data);
        Assert.Equal(ElfClass.Elf32, be32.Header.Class);
    }

    private static List<string> Describe(ElfFile elf, bool withAddresses)
    {
        var lines = new List<string> { $"soname {elf.SoName}", $"needed {string.Join(",", elf.Needed)}", $"buildid {Convert.ToHexString(elf.BuildId.Span)}" };
        var symbols = elf.DynamicSymbols!;
        for (int i = 0; i < symbols.Count; i++)
        {
            var s = symbols[i];
            string value = withAddresses || s.Type != SymbolType.Object ? $"{s.Value:x}" : "-";
            lines.Add($"sym {i} {symbols.GetName(i)} {value} {s.Size} {s.Info} {s.SectionIndex} {elf.GetSymbolVersion(i).Suffix} {elf.FindDefinedSymbol(symbols.GetName(i))}");
        }
        foreach (var t in elf.RelocationTables)
            foreach (var r in t)
                lines.Add($"{t.Name} {(withAddresses ? r.Offset.ToString("x", System.Globalization.CultureInfo.InvariantCulture) : "-")} {r.Type} {r.SymbolIndex} {r.Addend}");
        lines.Add($"relr {elf.Relr!.DecodeAddresses().Count}");
        if (withAddresses)
            lines.Add($"relr {string.Join(",", elf.Relr.DecodeAddresses())}");
        lines.AddRange(elf.Versions!.Definitions.Select(d => $"verdef {d.Index} {d.Name} {d.Flags} {d.Hash:x}"));
        lines.AddRange(elf.Versions.Needs.SelectMany(n => n.Versions.Select(v => $"verneed {n.File} {v.Name} {v.Index} {v.Hash:x}")));
        return lines;
    }

    // ---------------- Dynamic section quirks ----------------

    [Fact]
    public void DuplicateDynamicTag_LastOneWins()
    {
        var image = Build();
        uint libm = (uint)System.Text.Encoding.UTF8.GetString(image.Bytes, image.Layout.DynstrOffset, image.Layout.DynstrSize).IndexOf("libm.so.6", StringComparison.Ordinal);
        image.AddDynamic(DynamicTag.SoName, libm);
        var elf = image.Parse(Name);
        Assert.Equal("libm.so.6", elf.SoName);
        Assert.Equal(2, elf.Dynamic!.GetAll(DynamicTag.SoName).Count());
    }

    [Fact]
    public void DuplicateDynamicTag_AnEarlierBadValueIsOverriddenByALaterGoodOne()
    {
        var image = Build();
        image.SetDynamic(DynamicTag.SymEnt, 99);
        image.AddDynamic(DynamicTag.SymEnt, 24);
        BuiltElfAssert.ReadsBack(image, image.Parse(Name));
    }

    [Fact]
    public void EntriesAfterDtNull_AreIgnored()
    {
        var image = Build();
        int nul = image.DynamicEntryOffset(DynamicTag.Null);
        image.WriteU64(nul + 16, (ulong)DynamicTag.StrTab); // after the terminator: never read
        image.WriteU64(nul + 24, 0xdead_0000);
        BuiltElfAssert.ReadsBack(image, image.Parse(Name));
    }

    [Fact]
    public void JmprelInsideRelasz_IsNotReadTwice()
    {
        var image = Build();
        image.SetDynamic(DynamicTag.RelaSz, (ulong)(image.Layout.RelaSize + image.Layout.JmprelSize));
        var elf = image.Parse(Name);
        var table = Assert.Single(elf.RelocationTables);
        Assert.Equal(4, table.Count);
        Assert.Equal(ElfImageBuilder.R_X86_64_JUMP_SLOT, table[3].Type);
    }

    [Fact]
    public void NoPtDynamic_ParsesAsAStaticObject()
    {
        var image = Build();
        image.WriteU32(image.Layout.PhdrOffset + 2 * image.Layout.PhdrEntrySize, 0); // PT_DYNAMIC → PT_NULL
        var elf = image.Parse(Name);
        Assert.Null(elf.Dynamic);
        Assert.Null(elf.DynamicSymbols);
        Assert.Empty(elf.RelocationTables);
        Assert.Equal(-1, elf.FindDefinedSymbol("alpha"));
        ElfReadAll.ReadEverything(elf);
    }

    [Fact]
    public void NoProgramHeaders_Parses()
    {
        var image = Build();
        image.WriteU16(image.HeaderField("e_phnum"), 0);
        var elf = image.Parse(Name);
        Assert.Equal(0, elf.ProgramHeaderCount);
        Assert.Null(elf.Dynamic);
        // Without PT_NOTE the notes come from the SHT_NOTE sections.
        Assert.Equal(8, elf.BuildId.Length);
        ElfReadAll.ReadEverything(elf);
    }

    [Fact]
    public void ShoffSetButNoSectionsAnywhere_Parses()
    {
        // e_shnum == 0 and section 0's sh_size == 0: there are no sections.
        var image = Build();
        image.WriteU16(image.HeaderField("e_shnum"), 0);
        image.WriteU16(image.HeaderField("e_shstrndx"), 0);
        var elf = image.Parse(Name);
        Assert.Empty(elf.Sections);
        BuiltElfAssert.ReadsBack(image, elf);
    }

    // ---------------- Tiny files ----------------

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void TinyFile_IsRefusedNamingEIdent(int length)
    {
        var bytes = new byte[length];
        if (length > 0)
            bytes[0] = 0x7f;
        var e = ElfReadAll.AssertRefused(bytes, Name, "e_ident");
        Assert.Contains($"{length} bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyFileOnDisk_IsRefusedByOpen_AsATruncatedIdentification()
    {
        string path = Path.Combine(Path.GetTempPath(), $"loader-tiny-{Environment.ProcessId}-0.so");
        File.WriteAllBytes(path, []);
        try
        {
            var e = Assert.Throws<ElfFormatException>(() => ElfFile.Open(path).Dispose());
            Assert.Equal(path, e.FileName);
            Assert.Equal("e_ident", e.Field);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void OneZeroByteOnDisk_IsRefusedByOpen_AsNotAnElfFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"loader-tiny-{Environment.ProcessId}-1.so");
        File.WriteAllBytes(path, new byte[1]);
        try
        {
            var e = Assert.Throws<NotElfFileException>(() => ElfFile.Open(path).Dispose());
            Assert.Equal(path, e.FileName);
            Assert.Equal($"{path}: not an ELF file (magic 0x00)", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BuiltImageOnDisk_OpensLikeParse()
    {
        var image = Build();
        string path = Path.Combine(Path.GetTempPath(), $"loader-built-{Environment.ProcessId}.so");
        File.WriteAllBytes(path, image.Bytes);
        try
        {
            using var elf = ElfFile.Open(path);
            BuiltElfAssert.ReadsBack(image, elf);
        }
        finally
        {
            File.Delete(path);
        }
    }

    // ---------------- Real files ----------------

    [Fact]
    public void SystemLibrary_ReadsEverythingAndFindsEveryDefinedSymbol()
    {
        var (name, bytes) = SystemLibraries.Zlib();
        var elf = ElfFile.Parse(bytes, name);
        ElfReadAll.ReadEverything(elf);
        var symbols = elf.DynamicSymbols!;
        for (int i = 1; i < symbols.Count; i++)
            if (!symbols[i].IsUndefined)
                Assert.Equal(i, elf.FindDefinedSymbol(symbols.GetName(i)));
    }

    public static TheoryData<string> ExistingFixtures()
    {
        var data = new TheoryData<string>();
        foreach (var f in Fixtures.All)
            data.Add(f.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(ExistingFixtures))]
    public void EveryFixture_ReadsEverything_AsMuchAsReadelfPrints(string fixture)
    {
        string path = Fixtures.Path(fixture);
        using var elf = ElfFile.Open(path);
        ElfReadAll.ReadEverything(elf);

        // Reading every part without an exception is not enough: each part must hold what readelf finds there.
        var readelf = Readelf.ReadAll(path);
        Assert.False(readelf.HasErrors, $"readelf: {readelf.Stderr}");
        Assert.Equal(readelf.ProgramHeaders?.Headers.Count ?? 0, elf.ProgramHeaders.Count);
        Assert.Equal(readelf.Dynamic?.Soname, elf.SoName);
        Assert.Equal(readelf.Dynamic?.Needed ?? [], elf.Needed);
        Assert.Equal(readelf.DynamicSymbols?.Symbols.Count ?? 0, elf.DynamicSymbols?.Count ?? 0);
        Assert.Equal(
            readelf.Relocations.Where(r => r.Format != ReadelfRelocationFormat.Relr).Sum(r => r.Entries.Count),
            elf.RelocationTables.Sum(t => t.Count));
        Assert.Equal(
            readelf.Relocations.Where(r => r.Format == ReadelfRelocationFormat.Relr).Sum(r => r.RelrAddresses.Count),
            elf.Relr?.DecodeAddresses().Count ?? 0);
    }

    [Fact]
    public void NoSectionHeadersFixture_ReadsTheSameSymbolsAsBasic()
    {
        using var stripped = ElfFile.Open(Fixtures.Path("no_section_headers.so"));
        using var basic = ElfFile.Open(Fixtures.Path("basic.so"));
        Assert.Empty(stripped.Sections);
        Assert.NotEmpty(basic.Sections);
        Assert.Equal(Symbols(basic), Symbols(stripped));
        Assert.Equal(basic.Needed, stripped.Needed);
        Assert.Equal(basic.RelocationTables.Sum(t => t.Count), stripped.RelocationTables.Sum(t => t.Count));

        static List<(string, ulong, int)> Symbols(ElfFile elf)
        {
            var s = elf.DynamicSymbols!;
            return [.. Enumerable.Range(0, s.Count).Select(i => (s.GetName(i), s[i].Value, s[i].IsUndefined ? -1 : elf.FindDefinedSymbol(s.GetName(i))))];
        }
    }

    [Theory]
    [InlineData("bigendian64_ppc64.so", ElfClass.Elf64, "libbigendian64.so")]
    [InlineData("bigendian32_ppc.so", ElfClass.Elf32, "libbigendian32.so")]
    public void BigEndianFixtures_ReadBack(string fixture, ElfClass elfClass, string soname)
    {
        using var elf = ElfFile.Open(Fixtures.Path(fixture));
        Assert.Equal(ElfData.BigEndian, elf.Header.Data);
        Assert.Equal(elfClass, elf.Header.Class);
        Assert.Equal(soname, elf.SoName);
        Assert.Equal(["libneeded.so.1"], elf.Needed);
        Assert.NotNull(elf.SysvHash);
        int beFunc = elf.FindDefinedSymbol("be_func");
        Assert.True(beFunc > 0);
        Assert.Equal(SymbolType.Func, elf.DynamicSymbols![beFunc].Type);
        Assert.Equal(-1, elf.FindDefinedSymbol("be_external"));
        Assert.Equal(RelocationFormat.Rela, Assert.Single(elf.RelocationTables).Format);
        ElfReadAll.ReadEverything(elf);
    }
}
