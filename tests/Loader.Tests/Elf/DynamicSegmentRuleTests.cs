using System.Buffers.Binary;
using Loader.Elf;
using Loader.Mapping;

namespace Loader.Tests.Elf;

/// <summary>
/// An object with several <c>PT_DYNAMIC</c>s: the reader, the plan and the mapped image all take the last one whose
/// <c>p_filesz</c> is not 0, as glibc's <c>_dl_map_object_from_fd</c> sets <c>l_ld</c>. The builder's image gets a
/// new program header table: a decoy first (a one-entry DT_NULL section), the real one, then an empty one
/// (<c>p_filesz</c> 0, as <c>objcopy --only-keep-debug</c> leaves it). Taking the first would read the decoy, taking
/// the last would read nothing.
/// </summary>
public sealed class DynamicSegmentRuleTests
{
    private const int RealIndex = 3;

    /// <summary>The builder's image with its program headers replaced by LOAD0, LOAD1, decoy, real, empty.</summary>
    private static (byte[] Bytes, ProgramHeader Real) WithThreeDynamics(ElfImageBuilder builder)
    {
        var image = builder.Build();
        using var original = image.Parse();
        var loads = original.ProgramHeaders.Where(p => p.Type == SegmentType.Load).ToArray();
        var real = original.ProgramHeaders.Single(p => p.Type == SegmentType.Dynamic);
        // The builder pads the dynamic section with DT_NULLs: its last entry alone is a valid, empty dynamic section.
        ulong lastEntry = (ulong)((image.Layout.DynamicCount - 1) * image.Layout.DynamicEntrySize);
        var decoy = real with { Offset = real.Offset + lastEntry, VirtualAddress = real.VirtualAddress + lastEntry, FileSize = 16, MemorySize = 16 };
        var empty = real with { FileSize = 0 };
        ProgramHeader[] headers = [loads[0], loads[1], decoy, real, empty];
        Assert.Equal(RealIndex, Array.IndexOf(headers, real));

        // The new table goes at the end of the file; e_phoff and e_phnum point at it.
        int phoff = (image.Bytes.Length + 7) & ~7;
        var bytes = new byte[phoff + headers.Length * ProgramHeader.Size64];
        image.Bytes.CopyTo(bytes, 0);
        for (int i = 0; i < headers.Length; i++)
            WritePhdr(bytes.AsSpan(phoff + i * ProgramHeader.Size64), headers[i]);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(image.HeaderField("e_phoff")), (ulong)phoff);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(image.HeaderField("e_phnum")), (ushort)headers.Length);
        return (bytes, real);
    }

    private static void WritePhdr(Span<byte> s, ProgramHeader ph)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)ph.Type);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], (uint)ph.Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(s[8..], ph.Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(s[16..], ph.VirtualAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], ph.PhysicalAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], ph.FileSize);
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], ph.MemorySize);
        BinaryPrimitives.WriteUInt64LittleEndian(s[48..], ph.Alignment);
    }

    [Fact]
    public void TheRule_IsTheLastNonEmptyPtDynamic()
    {
        var (bytes, _) = WithThreeDynamics(new ElfImageBuilder());
        using var file = ElfFile.Parse(bytes, "three-dynamics.so");
        Assert.Equal(3, file.ProgramHeaders.Count(p => p.Type == SegmentType.Dynamic));
        Assert.Equal(RealIndex, DynamicSegment.IndexIn(file.ProgramHeaders));
    }

    [Fact]
    public void TheReader_ReadsTheLastNonEmptyPtDynamic()
    {
        var (bytes, real) = WithThreeDynamics(new ElfImageBuilder());
        using var file = ElfFile.Parse(bytes, "three-dynamics.so");
        Assert.NotNull(file.Dynamic);
        Assert.Equal(real.VirtualAddress, file.Dynamic.Address);
        Assert.Equal("libtest.so.1", file.SoName);
        Assert.Equal(["libc.so.6", "libm.so.6"], file.Needed);
    }

    [Fact]
    public void ThePlan_NamesTheFieldInTheLastNonEmptyPtDynamic()
    {
        // DF_1_PIE makes the plan refuse the object, naming DT_FLAGS_1 by its file offset inside the PT_DYNAMIC it took.
        var builder = new ElfImageBuilder();
        builder.ExtraDynamic.Add((DynamicTag.Flags1, (ulong)DynamicFlags1.Pie));
        var (bytes, real) = WithThreeDynamics(builder);
        using var file = ElfFile.Parse(bytes, "three-dynamics.so");
        int flags1 = file.Dynamic!.Entries.ToList().FindIndex(e => e.Tag == DynamicTag.Flags1);
        Assert.True(flags1 > 0);

        var ex = Assert.Throws<UnsupportedElfException>(() => LoadPlan.Create(file));
        Assert.Equal("DT_FLAGS_1", ex.Field);
        Assert.Equal(real.Offset + (ulong)flags1 * 16, ex.Offset);
    }

    [Fact]
    public void TheMappedImage_ReadsTheLastNonEmptyPtDynamic()
    {
        var (bytes, real) = WithThreeDynamics(new ElfImageBuilder());
        using var image = ElfImage.Map(bytes, "three-dynamics.so");
        Assert.NotNull(image.Dynamic);
        Assert.Equal(real.VirtualAddress, image.Dynamic.Address);
        Assert.Equal("libtest.so.1", image.Tables!.SoName);
        using var file = ElfFile.Parse(bytes, "three-dynamics.so");
        Assert.Equal(file.Dynamic!.Entries, image.Dynamic.Entries);
    }

    [Fact]
    public void AnObjectWhoseOnlyPtDynamicIsEmpty_HasNoDynamicSection()
    {
        // What objcopy --only-keep-debug leaves: glibc sets no l_ld from it (and refuses to dlopen the file).
        var image = new ElfImageBuilder().Build();
        var bytes = image.Bytes.ToArray();
        using (var original = image.Parse())
        {
            int index = original.ProgramHeaders.ToList().FindIndex(p => p.Type == SegmentType.Dynamic);
            int filesz = (int)original.Header.ProgramHeaderOffset + index * ProgramHeader.Size64 + 32;
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(filesz), 0);
        }
        using var file = ElfFile.Parse(bytes, "empty-dynamic.so");
        Assert.Equal(1, file.ProgramHeaders.Count(p => p.Type == SegmentType.Dynamic && p.FileSize == 0));
        Assert.Null(file.Dynamic);
        Assert.Null(file.SoName);
    }
}
