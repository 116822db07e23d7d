using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary>The builder's image is valid and reads back exactly what was put in, in every class and byte order.</summary>
public class ElfImageBuilderTests
{
    public static TheoryData<bool, bool> Variants => new() { { true, false }, { false, false }, { true, true }, { false, true } };

    [Theory]
    [MemberData(nameof(Variants))]
    public void ValidImage_ReadsBackWhatWasBuilt(bool is64, bool bigEndian)
    {
        var image = new ElfImageBuilder { Is64 = is64, BigEndian = bigEndian }.Build();
        var elf = image.Parse();
        AssertReadsBack(image, elf);
        Assert.Equal(16, elf.SectionCount);
        Assert.Equal(".shstrtab", elf.Sections[elf.SectionNameTableIndex].Name);
        Assert.Contains(elf.Sections, s => s.Name == ".dynsym" && s.Type == SectionType.DynSym);
    }

    [Theory]
    [InlineData(HashStyle.Gnu)]
    [InlineData(HashStyle.Sysv)]
    [InlineData(HashStyle.Both)]
    public void EachHashStyle_FindsEveryDefinedSymbol(HashStyle style)
    {
        var image = new ElfImageBuilder { Hashes = style }.Build();
        var elf = image.Parse();
        Assert.Equal(style != HashStyle.Sysv, elf.GnuHash is not null);
        Assert.Equal(style != HashStyle.Gnu, elf.SysvHash is not null);
        AssertReadsBack(image, elf);
    }

    [Fact]
    public void HashFunctions_MatchTheReaderAndKnownValues()
    {
        // Known values: the GNU hash of "" is 5381; of "printf" 0x156b2bb8; the SysV hash of "printf" 0x077905a6.
        Assert.Equal(5381u, ElfImageBuilder.GnuHash(""));
        Assert.Equal(0x156b2bb8u, ElfImageBuilder.GnuHash("printf"));
        Assert.Equal(0x077905a6u, ElfImageBuilder.SysvHash("printf"));
        foreach (var name in new[] { "alpha", "zeta_with_a_longer_name", "GLIBC_2.2.5", "a_really_long_symbol_name_to_overflow_the_high_nibble" })
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(name);
            Assert.Equal(ElfImageBuilder.GnuHash(name), GnuHashTable.Hash(bytes));
            Assert.Equal(ElfImageBuilder.SysvHash(name), SysvHashTable.Hash(bytes));
        }
    }

    [Fact]
    public void RelrEncoding_RoundTripsThroughTheReader()
    {
        var image = new ElfImageBuilder().Build();
        var words = ElfImageBuilder.EncodeRelr(image.RelrAddresses, 8);
        // address, bitmap (b+8, b+16, b+32), bitmap (b+70w, b+72w), address (b+200w)
        Assert.Equal(4, words.Count);
        Assert.Equal(image.RelrAddresses, image.Parse().Relr!.DecodeAddresses());
    }

    /// <summary>Every part of the parsed file against what the builder wrote.</summary>
    internal static void AssertReadsBack(BuiltElf image, ElfFile elf)
    {
        var layout = image.Layout;
        Assert.Equal(image.Is64 ? ElfClass.Elf64 : ElfClass.Elf32, elf.Header.Class);
        Assert.Equal(image.BigEndian ? ElfData.BigEndian : ElfData.LittleEndian, elf.Header.Data);
        Assert.Equal(ElfType.SharedObject, elf.Header.Type);
        Assert.Equal(layout.PhdrCount, elf.ProgramHeaderCount);
        Assert.Equal(SegmentType.Load, elf.ProgramHeaders[0].Type);
        Assert.Equal((ulong)layout.Load0End, elf.ProgramHeaders[0].FileSize);
        Assert.Equal(layout.Load1Address, elf.ProgramHeaders[1].VirtualAddress);
        Assert.Equal(SegmentType.Dynamic, elf.ProgramHeaders[2].Type);

        Assert.Equal(image.SoName, elf.SoName);
        Assert.Equal(image.Needed, elf.Needed);
        Assert.Equal(image.RunPath, elf.RunPath);
        Assert.Null(elf.RPath);
        Assert.Equal(new byte[] { 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7 }, elf.BuildId.ToArray());

        var symbols = elf.DynamicSymbols!;
        Assert.Equal(image.Symbols.Count, symbols.Count);
        for (int i = 0; i < image.Symbols.Count; i++)
        {
            var expected = image.Symbols[i];
            Assert.Equal(expected.Name, symbols.GetName(i));
            Assert.Equal(expected.Value, symbols[i].Value);
            Assert.Equal(expected.Size, symbols[i].Size);
            Assert.Equal(!expected.Defined, symbols[i].IsUndefined);
            Assert.Equal(expected.Info, symbols[i].Info);
            int found = elf.FindDefinedSymbol(expected.Name);
            Assert.Equal(expected.Defined ? i : -1, found);
        }
        Assert.Equal(-1, elf.FindDefinedSymbol("no_such_symbol"));
        // Both hashes, independently of FindDefinedSymbol's preference.
        foreach (var s in image.Symbols.Where(s => s.Defined))
        {
            var nameBytes = System.Text.Encoding.UTF8.GetBytes(s.Name);
            int index = image.SymbolIndex(s.Name);
            bool Matches(int i) => symbols.GetNameBytes(i).SequenceEqual(nameBytes);
            if (elf.GnuHash is { } gnu)
            {
                Assert.True(gnu.MayContain(ElfImageBuilder.GnuHash(s.Name)));
                Assert.Equal(index, gnu.Find(ElfImageBuilder.GnuHash(s.Name), Matches));
            }
            if (elf.SysvHash is { } sysv)
                Assert.Equal(index, sysv.Find(ElfImageBuilder.SysvHash(s.Name), Matches));
        }
        if (elf.GnuHash is { } g)
        {
            Assert.Equal(image.Symbols.Count, g.SymbolCount);
            Assert.Equal((uint)(1 + image.Symbols.Skip(1).TakeWhile(s => !s.Defined).Count()), g.SymbolOffset);
        }
        if (elf.SysvHash is { } h)
            Assert.Equal((uint)image.Symbols.Count, h.ChainCount);

        // Versions.
        if (layout.VersymOffset != 0)
        {
            Assert.Equal("@@LIBTEST_1.0", elf.GetSymbolVersion(image.SymbolIndex("alpha")).Suffix);
            Assert.Equal(SymbolVersionKind.Hidden, elf.GetSymbolVersion(image.SymbolIndex("beta")).Kind);
            var needed = elf.GetSymbolVersion(image.SymbolIndex("ext_func"));
            Assert.Equal((SymbolVersionKind.Needed, "GLIBC_2.2.5", "libc.so.6"), (needed.Kind, needed.Name, needed.File));
            Assert.Equal(SymbolVersion.None, elf.GetSymbolVersion(image.SymbolIndex("gamma_data")));
            Assert.Equal([image.SoName, "LIBTEST_1.0"], elf.Versions!.Definitions.Select(d => d.Name));
            Assert.True(elf.Versions.Definitions[0].IsBase);
        }

        // Relocations: DT_RELA then DT_JMPREL.
        Assert.Equal(["DT_RELA", "DT_JMPREL"], elf.RelocationTables.Select(t => t.Name));
        var expectedRelocations = image.Rela.Concat(image.JmpRel).ToList();
        var actual = elf.RelocationTables.SelectMany(t => Enumerable.Range(0, t.Count).Select(i => t[i])).ToList();
        Assert.Equal(expectedRelocations.Count, actual.Count);
        for (int i = 0; i < actual.Count; i++)
        {
            Assert.Equal(expectedRelocations[i].Offset, actual[i].Offset);
            Assert.Equal(expectedRelocations[i].Type, actual[i].Type);
            Assert.Equal(expectedRelocations[i].SymbolIndex, actual[i].SymbolIndex);
            Assert.Equal(expectedRelocations[i].Addend, actual[i].Addend);
        }

        if (layout.RelrOffset != 0)
            Assert.Equal(image.RelrAddresses, elf.Relr!.DecodeAddresses());
        ElfReadAll.ReadEverything(elf);
    }
}
