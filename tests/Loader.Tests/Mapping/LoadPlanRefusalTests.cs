using System.Buffers.Binary;
using Loader.Elf;
using Loader.Mapping;

namespace Loader.Tests.Mapping;

/// <summary>Every refusal of the plan, each from a crafted header (a real library's bytes patched in memory).
/// Each asserts the message names the segment and the field.</summary>
public sealed class LoadPlanRefusalTests
{
    private const int PhdrSize = 56;
    private static readonly ulong Page = (ulong)Environment.SystemPageSize;

    /// <summary>A copy of the basic library and the indexes of its program headers.</summary>
    private sealed class Crafted
    {
        public Crafted()
        {
            Bytes = File.ReadAllBytes(TestLibraries.Basic);
            using var file = ElfFile.Parse(Bytes, "crafted.so");
            PhOff = (int)file.Header.ProgramHeaderOffset;
            Headers = [.. file.ProgramHeaders];
            Loads = [.. Enumerable.Range(0, Headers.Length).Where(i => Headers[i].Type == SegmentType.Load)];
        }

        public byte[] Bytes { get; }
        public int PhOff { get; }
        public ProgramHeader[] Headers { get; }
        public int[] Loads { get; }

        public int Field(int index, int offset) => PhOff + index * PhdrSize + offset;
        public void U32(int index, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Bytes.AsSpan(Field(index, offset)), value);
        public void U64(int index, int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan(Field(index, offset)), value);

        public LoaderException Refuse(MapOptions? options = null)
        {
            var ex = Assert.ThrowsAny<LoaderException>(() =>
            {
                using var file = ElfFile.Parse(Bytes, "crafted.so");
                LoadPlan.Create(file, options);
            });
            Assert.StartsWith("crafted.so: ", ex.Message);
            return ex;
        }
    }

    private static void AssertNames(LoaderException ex, string field)
    {
        Assert.Contains(field, ex.Message);
        if (ex is ElfFormatException format)
            Assert.Equal(field, format.Field);
    }

    [Fact]
    public void TheUnpatchedCopyIsAccepted()
    {
        var c = new Crafted();
        using var file = ElfFile.Parse(c.Bytes, "crafted.so");
        Assert.NotEmpty(LoadPlan.Create(file).Overlays);
    }

    [Fact]
    public void Elf32IsRefusedNamingEiClass()
    {
        // A real ELFCLASS32 object (gcc -m32): readable, so the refusal is the plan's, not the reader's.
        using var file = ElfFile.Open(Fixtures.Path("elf32_i386.so"));
        var ex = Assert.Throws<UnsupportedElfException>(() => LoadPlan.Create(file));
        Assert.Equal("e_ident[EI_CLASS]", ex.Field);
        Assert.Contains("ELFCLASS32", ex.Message);
    }

    [Fact]
    public void BigEndianIsRefusedNamingEiData()
    {
        using var file = ElfFile.Open(Fixtures.Path("bigendian64_ppc64.so"));
        var ex = Assert.Throws<UnsupportedElfException>(() => LoadPlan.Create(file));
        Assert.Equal("e_ident[EI_DATA]", ex.Field);
    }

    [Fact]
    public void AnotherMachineIsRefusedNamingEMachine()
    {
        var c = new Crafted();
        BinaryPrimitives.WriteUInt16LittleEndian(c.Bytes.AsSpan(18), 183); // EM_AARCH64
        var ex = c.Refuse();
        AssertNames(ex, "e_machine");
        Assert.Contains("EM_AARCH64", ex.Message);
        Assert.Equal(18UL, ((UnsupportedElfException)ex).Offset);
    }

    [Theory]
    [InlineData(1, "ET_REL")]
    [InlineData(2, "ET_EXEC")]
    public void OtherTypesAreRefusedNamingEType(ushort type, string name)
    {
        var c = new Crafted();
        BinaryPrimitives.WriteUInt16LittleEndian(c.Bytes.AsSpan(16), type);
        var ex = c.Refuse();
        AssertNames(ex, "e_type");
        Assert.Contains(name, ex.Message);
    }

    [Fact]
    public void APieExecutableIsRefusedNamingDtFlags1()
    {
        // A real PIE from the system: Debian builds /bin/ls (coreutils, always installed) with -pie.
        using (var ls = ElfFile.Open("/bin/ls"))
        {
            Assert.True((ls.Dynamic?.Flags1 & DynamicFlags1.Pie) != 0, "/bin/ls has no DF_1_PIE: not Debian's coreutils?");
            AssertNames(Assert.Throws<UnsupportedElfException>(() => LoadPlan.Create(ls)), "DT_FLAGS_1");
        }
        // And a crafted one: turn the library's first spare DT_NULL into DT_FLAGS_1 = DF_1_PIE.
        var c = new Crafted();
        var dynamic = c.Headers.First(h => h.Type == SegmentType.Dynamic);
        int at = -1;
        for (int off = 0; off + 32 <= (int)dynamic.FileSize; off += 16)
            if (BinaryPrimitives.ReadInt64LittleEndian(c.Bytes.AsSpan((int)dynamic.Offset + off)) == 0)
            {
                at = (int)dynamic.Offset + off;
                break;
            }
        Assert.True(at > 0, "the library has no spare DT_NULL to patch");
        BinaryPrimitives.WriteInt64LittleEndian(c.Bytes.AsSpan(at), 0x6ffffffb); // DT_FLAGS_1
        BinaryPrimitives.WriteUInt64LittleEndian(c.Bytes.AsSpan(at + 8), 0x08000000); // DF_1_PIE
        var ex = c.Refuse();
        AssertNames(ex, "DT_FLAGS_1");
        Assert.Equal((ulong)at, ((UnsupportedElfException)ex).Offset);
    }

    [Fact]
    public void NoPtLoadIsRefused()
    {
        var c = new Crafted();
        for (int i = 0; i < c.Headers.Length; i++)
            if (c.Headers[i].Type is SegmentType.Load or SegmentType.Dynamic)
                c.U32(i, 0, 0); // PT_NULL (PT_DYNAMIC too: without PT_LOADs the reader could not follow it)
        AssertNames(c.Refuse(), "PT_LOAD");
    }

    [Fact]
    public void POffsetDisagreeingWithPVaddrModuloThePageIsRefused()
    {
        var c = new Crafted();
        int i = c.Loads[1];
        c.U64(i, 8, c.Headers[i].Offset + 0x10);
        var ex = c.Refuse();
        AssertNames(ex, $"PT_LOAD[{i}] p_offset");
        Assert.Equal((ulong)c.Field(i, 8), ((ElfFormatException)ex).Offset);
    }

    [Fact]
    public void PFileszLargerThanPMemszIsRefused()
    {
        var c = new Crafted();
        int i = c.Loads[^1];
        c.U64(i, 40, c.Headers[i].FileSize - 1);
        AssertNames(c.Refuse(), $"PT_LOAD[{i}] p_filesz");
    }

    [Fact]
    public void OverlappingSegmentsAreRefused()
    {
        // The first PT_LOAD's memory now runs into the second's [p_vaddr, p_vaddr + p_memsz).
        var c = new Crafted();
        int first = c.Loads[0], second = c.Loads[1];
        c.U64(first, 40, c.Headers[second].VirtualAddress - c.Headers[first].VirtualAddress + 0x10);
        var ex = c.Refuse();
        AssertNames(ex, $"PT_LOAD[{second}] p_vaddr");
        Assert.Contains("overlaps", ex.Message);
    }

    [Fact]
    public void SegmentsOutOfOrderAreRefused()
    {
        var c = new Crafted();
        int a = c.Loads[1], b = c.Loads[2];
        var first = c.Bytes.AsSpan(c.Field(a, 0), PhdrSize).ToArray();
        c.Bytes.AsSpan(c.Field(b, 0), PhdrSize).CopyTo(c.Bytes.AsSpan(c.Field(a, 0)));
        first.CopyTo(c.Bytes.AsSpan(c.Field(b, 0)));
        var ex = c.Refuse();
        AssertNames(ex, $"PT_LOAD[{b}] p_vaddr");
        Assert.Contains("sorted", ex.Message);
    }

    [Fact]
    public void SegmentsSharingAPageAreRefused()
    {
        // Move the third PT_LOAD (read-only data) into the text segment's last page, keeping p_offset ≡ p_vaddr.
        var c = new Crafted();
        int text = c.Loads[1], next = c.Loads[2];
        ulong textEnd = c.Headers[text].VirtualAddress + c.Headers[text].MemorySize;
        ulong moved = (textEnd + 0x100) & ~0xfUL;
        Assert.True(moved % Page != 0 && moved / Page == (textEnd - 1) / Page, "the text segment ends too close to its page end for this test");
        c.U64(next, 16, moved);
        c.U64(next, 24, moved);
        c.U64(next, 8, c.Headers[next].Offset - (c.Headers[next].VirtualAddress - moved));
        var ex = c.Refuse();
        AssertNames(ex, $"PT_LOAD[{next}] p_vaddr");
        Assert.Contains("shares page", ex.Message);
    }

    [Fact]
    public void WriteAndExecuteIsRefused()
    {
        var c = new Crafted();
        int i = c.Loads[^1];
        c.U32(i, 4, 7); // PF_R|PF_W|PF_X
        var ex = c.Refuse();
        AssertNames(ex, $"PT_LOAD[{i}] p_flags");
        Assert.Contains("write and execute", ex.Message);
    }

    [Fact]
    public void AFileRangePastTheEndIsRefused()
    {
        // The reader refuses it first (it translates addresses through the PT_LOADs); the message names the segment.
        var c = new Crafted();
        int i = c.Loads[^1];
        c.U64(i, 32, (ulong)c.Bytes.Length);
        c.U64(i, 40, (ulong)c.Bytes.Length * 2);
        AssertNames(c.Refuse(), $"PT_LOAD[{i}] p_offset");
    }

    [Fact]
    public void ASpanOverMaxImageSizeIsRefused()
    {
        var c = new Crafted();
        int last = c.Loads[^1];
        var ex = c.Refuse(new MapOptions { MaxImageSize = 0x2000 });
        AssertNames(ex, $"PT_LOAD[{last}] p_memsz");
        Assert.Contains("MaxImageSize", ex.Message);

        // The default limit is 1 GiB: a 2 GiB .bss is refused.
        c.U64(last, 40, 2UL << 30);
        AssertNames(c.Refuse(), $"PT_LOAD[{last}] p_memsz");
    }

    [Fact]
    public void ANonPowerOfTwoAlignmentIsRefused()
    {
        var c = new Crafted();
        int i = c.Loads[0];
        c.U64(i, 48, 0x3000);
        AssertNames(c.Refuse(), $"PT_LOAD[{i}] p_align");
    }

    [Fact]
    public void AnAlignmentBelowThePageSizeIsRefusedForLargerPages()
    {
        // Planned for 64 KiB pages, a library linked for 4 KiB pages has p_align and p_offset/p_vaddr it cannot honor.
        var c = new Crafted();
        using var file = ElfFile.Parse(c.Bytes, "crafted.so");
        Assert.True(c.Headers.Where(h => h.Type == SegmentType.Load).Any(h => h.Alignment < 0x10000),
            "basic.so is linked for 4 KiB pages (ld's default max-page-size on x86_64), else this case tests nothing");
        var ex = Assert.Throws<ElfFormatException>(() => LoadPlan.Create(file, MapOptions.Default, 0x10000));
        Assert.Contains("p_align", ex.Field);
    }

    [Fact]
    public void RelroOutsideEveryPtLoadIsRefused()
    {
        var c = new Crafted();
        int relro = Array.FindLastIndex(c.Headers, h => h.Type == SegmentType.GnuRelro);
        Assert.True(relro >= 0, "basic.so has a PT_GNU_RELRO (ld's default -z relro), else this case tests nothing");
        c.U64(relro, 16, 0x4000_0000);
        AssertNames(c.Refuse(), $"PT_GNU_RELRO[{relro}] p_vaddr");
    }
}
