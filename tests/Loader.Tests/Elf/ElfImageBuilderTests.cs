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
        BuiltElfAssert.ReadsBack(image, elf);
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
        BuiltElfAssert.ReadsBack(image, elf);
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
}
