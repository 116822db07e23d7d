using Loader.Elf;
using Loader.Tests.Oracles;

namespace Loader.Tests.Elf;

/// <summary>
/// Bad input is refused with an <see cref="ElfFormatException"/> naming the file and the field, never another
/// exception and never a hang. Each case corrupts one field of the builder's valid image.
/// </summary>
public partial class MalformedInputTests
{
    private const string Name = "corrupt.so";

    private static BuiltElf Build(Action<ElfImageBuilder>? configure = null)
    {
        var builder = new ElfImageBuilder();
        configure?.Invoke(builder);
        return builder.Build();
    }

    private static ElfFormatException Refused(BuiltElf image, params string[] fields) =>
        ElfReadAll.AssertRefused(image.Bytes, Name, fields);

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
        var (name, bytes) = SystemLibraries.Zlib();
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
    public void BadMagic_IsRefused_AsNotAnElfFile_NamingTheMagic(int index)
    {
        var image = Build();
        image.Bytes[index] ^= 0x20;
        var e = Assert.IsType<NotElfFileException>(ElfReadAll.ParseAndReadAll(image.Bytes, Name));
        Assert.Equal(FileKind.Unknown, e.Kind);
        Assert.Equal($"{Name}: not an ELF file (magic 0x{Convert.ToHexStringLower(image.Bytes.AsSpan(0, 4))})", e.Message);
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
        Assert.Equal((ulong)image.HeaderField("e_phoff"), e.Offset); // where the bad field lies, not the value it holds
        Assert.Contains($"0x{image.Bytes.Length + 8:x}", e.Message, StringComparison.Ordinal);
        image.WriteWord(image.HeaderField("e_phoff"), ulong.MaxValue - 8);
        Refused(image, "e_phoff");
    }

    [Fact]
    public void ShoffPastTheEnd_IsRefused()
    {
        var image = Build();
        image.WriteWord(image.HeaderField("e_shoff"), (ulong)image.Bytes.Length);
        Assert.Equal((ulong)image.HeaderField("e_shoff"), Refused(image, "e_shoff").Offset);
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

    private static int FindString(BuiltElf image, string s)
    {
        var table = image.Bytes.AsSpan(image.Layout.DynstrOffset, image.Layout.DynstrSize);
        int at = table.IndexOf(System.Text.Encoding.UTF8.GetBytes(s + "\0"));
        Assert.True(at > 0, s);
        return at;
    }
}
