using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary>Malformed input, continued: relocation tables, RELR and symbol versions.</summary>
public partial class MalformedInputTests
{
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
}
