using Loader.Elf;
using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Mapping;

/// <summary>
/// <see cref="ElfImage.Map(string, MapOptions?)"/> with /proc/self/maps as the oracle: each PT_LOAD at base + p_vaddr
/// with the kernel's protection matching p_flags (RELRO read-only), file-backed regions naming our file at the
/// right offset, .bss reading zero, gaps PROT_NONE, the base aligned; then nothing left after Dispose.
/// </summary>
[Collection("AddressSpace")]
public sealed class PlacementTests
{
    private static readonly ulong Page = (ulong)Environment.SystemPageSize;

    public static TheoryData<string> Libraries() => TestLibraries.All();

    [Theory]
    [MemberData(nameof(Libraries))]
    public void MappedFromFileLandsWhereTheHeadersSay(string path) => MapAndCheck(path, fromMemory: false);

    [Theory]
    [MemberData(nameof(Libraries))]
    public void MappedFromMemoryLandsWhereTheHeadersSay(string path) => MapAndCheck(path, fromMemory: true);

    [Fact]
    public void RelroCanBeDeferredAndAppliedLater()
    {
        string path = TestLibraries.Basic;
        using var image = ElfImage.Map(path, new MapOptions { ApplyRelro = false });
        var relro = image.Plan.Relro.GetValueOrDefault();
        Assert.True(relro is { Length: > 0 }, "basic.so has a PT_GNU_RELRO (ld's default -z relro), else there is nothing to defer");
        var region = image.Segments.First(s => s.Content == SegmentContent.Relro);
        Assert.Equal(MemoryProtection.Read | MemoryProtection.Write, region.Protection);
        Assert.Equal("rw-p", EntryAt(ProcMaps.Read(), region.Start).Permissions);
        Assert.DoesNotContain(image.MappingSteps, s => s.Kind == MappingStepKind.ProtectRelro);

        image.ApplyRelro();
        image.ApplyRelro(); // idempotent
        Assert.True(image.IsRelroApplied);
        Assert.Single(image.MappingSteps, s => s.Kind == MappingStepKind.ProtectRelro);
        Assert.Equal(MemoryProtection.Read, image.Segments.First(s => s.Content == SegmentContent.Relro).Protection);
        Assert.Equal("r--p", EntryAt(ProcMaps.Read(), (nint)((ulong)image.BaseAddress + relro.Address)).Permissions);
    }

    [Fact]
    public void ABssTailInANonWritableSegmentIsZeroedWithoutWriteAndExecute()
    {
        // Give the text PT_LOAD a .bss tail: its last file page must be made read-write (never W+X) for the zeroing.
        byte[] bytes = File.ReadAllBytes(TestLibraries.Basic);
        using (var parsed = Loader.Elf.ElfFile.Parse(bytes, "x"))
        {
            int text = Enumerable.Range(0, parsed.ProgramHeaders.Count)
                .First(i => (parsed.ProgramHeaders[i].Flags & Loader.Elf.SegmentFlags.Execute) != 0);
            var ph = parsed.ProgramHeaders[text];
            ulong pageEnd = (ph.VirtualAddress + ph.FileSize + Page - 1) & ~(Page - 1);
            Assert.True(pageEnd != ph.VirtualAddress + ph.FileSize, "basic.so's text segment ends inside a page, else it has no tail to zero");
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(
                bytes.AsSpan((int)parsed.Header.ProgramHeaderOffset + text * 56 + 40), pageEnd - ph.VirtualAddress);
        }
        using var image = ElfImage.Map(bytes, "loader-test-text-bss");
        var bss = Assert.Single(image.Plan.Bss, b => (b.Protection & MemoryProtection.Execute) != 0);
        Assert.True(bss.ZeroFillNeedsUnprotect);
        var steps = image.MappingSteps;
        var unprotect = Assert.Single(steps, s => s.Kind == MappingStepKind.UnprotectForZeroing);
        Assert.Equal(MemoryProtection.Read | MemoryProtection.Write, unprotect.Protection);
        Assert.Equal(MemoryProtection.Read | MemoryProtection.Execute,
            Assert.Single(steps, s => s.Kind == MappingStepKind.RestoreProtection).Protection);
        Assert.True(image.GetBytes(bss.Start, (int)(bss.End - bss.Start)).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal("r-xp", EntryAt(ProcMaps.Read(), (nint)((ulong)image.BaseAddress + bss.Start)).Permissions);
    }

    [Fact]
    public void ElfLibraryLoadMapsAndProtectsRelro()
    {
        var before = AddressSpaceSnapshot.Take();
        string path = TestLibraries.Basic;
        var library = ElfLibrary.Load(path);
        Assert.Equal(path, library.Path);
        Assert.Equal(0UL, (ulong)library.BaseAddress % library.Plan!.Alignment);
        if (library.Plan.Relro is { Length: > 0 })
            Assert.Contains(library.MappingSteps, s => s.Kind == MappingStepKind.ProtectRelro);
        var range = library.ReservedRange;
        library.Dispose();
        library.Dispose();
        Assert.Equal(MappingStepKind.Unmap, library.MappingSteps[^1].Kind);
        before.AssertNothingLeft(null, TestLibraries.RealPath(path), [((ulong)range.Start, (ulong)range.End)]);

        Assert.True(ElfLibrary.TryLoad(path, out var again));
        again!.Dispose();
        Assert.False(ElfLibrary.TryLoad("/nonexistent/libnothing.so", out var missing));
        Assert.Null(missing);
    }

    [Fact]
    public void ReadingOutsideTheImageIsRefused()
    {
        using var image = ElfImage.Map(TestLibraries.Basic);
        Assert.Throws<ArgumentOutOfRangeException>(() => image.GetBytes(image.Plan.EndAddress, 1).Length);
        if (image.Plan.Gaps.Count > 0)
            Assert.Throws<ArgumentOutOfRangeException>(() => image.GetBytes(image.Plan.Gaps[0].Address, 1).Length);
        image.Dispose();
        Assert.Throws<ObjectDisposedException>(() => image.GetBytes(image.Plan.StartAddress, 1).Length);
        Assert.Throws<ObjectDisposedException>(image.ApplyRelro);
    }

    private static void MapAndCheck(string path, bool fromMemory)
    {
        var before = AddressSpaceSnapshot.Take();
        byte[] bytes = File.ReadAllBytes(path);
        string memfdName = $"loader-test-{System.IO.Path.GetFileName(path)}";
        var image = fromMemory ? ElfImage.Map(bytes, memfdName) : ElfImage.Map(path);
        string nameInMaps = fromMemory ? $"/memfd:{memfdName} (deleted)" : TestLibraries.RealPath(path);
        FileIdentity identity = image.File;
        AddressRange reserved = image.ReservedRange;
        try
        {
            Assert.Equal(fromMemory, image.IsFromMemory);
            var maps = ProcMaps.Read();
            var loads = TestLibraries.ReadelfProgramHeaders(path).Where(s => s.Type == "LOAD").ToList();
            ulong bias = (ulong)image.BaseAddress;

            Assert.Equal(0UL, bias % image.Plan.Alignment);
            Assert.Equal(0UL, bias % loads.Max(l => Math.Max(1, l.Align)));
            Assert.Equal(bias + image.Plan.StartAddress, (ulong)reserved.Start);
            Assert.Equal(image.Plan.Size, reserved.Length);

            // Each PT_LOAD starts at base + p_vaddr, and its file bytes are the file's.
            foreach (var l in loads)
            {
                var first = image.Segments.First(s => s.ProgramHeaderIndex == l.Index);
                Assert.Equal(bias + (l.VirtualAddress & ~(Page - 1)), (ulong)first.Start);
                Assert.True(image.GetBytes(l.VirtualAddress, checked((int)l.FileSize))
                    .SequenceEqual(bytes.AsSpan(checked((int)l.Offset), (int)l.FileSize)), $"PT_LOAD[{l.Index}]'s bytes differ from the file");
            }

            // Every region against the kernel: protection, file, offset; the regions tile the reservation.
            var (major, minor) = ProcMaps.SplitDevice(identity.Device);
            nint at = reserved.Start;
            foreach (var segment in image.Segments)
            {
                Assert.Equal(at, segment.Start);
                at = segment.End;
                string expected = segment.Protection.ToMapsString() + "p";
                if (segment.Content == SegmentContent.Gap)
                    Assert.Equal("---p", expected);
                if (segment.Content == SegmentContent.Relro)
                    Assert.Equal("r--p", expected);
                foreach (var entry in ProcMaps.Covering(maps, (ulong)segment.Start, (ulong)segment.End))
                {
                    Assert.True(expected == entry.Permissions, $"{segment}: the kernel shows {entry}");
                    if (segment.FileOffset is { } offset)
                    {
                        Assert.True(entry.Inode == identity.Inode && entry.Major == major && entry.Minor == minor,
                            $"{segment}: the kernel shows another file: {entry}");
                        Assert.Equal(nameInMaps, entry.Path);
                        ulong from = Math.Max((ulong)segment.Start, entry.Start);
                        Assert.Equal(offset + (from - (ulong)segment.Start), entry.OffsetAt(from));
                    }
                    else
                    {
                        Assert.True(entry.Inode == 0, $"{segment}: expected anonymous memory, the kernel shows {entry}");
                    }
                }
            }
            Assert.Equal(reserved.End, at);

            // Every .bss byte reads zero, including the tail of the last file page (which holds file bytes on disk).
            foreach (var bss in image.Plan.Bss)
            {
                var span = image.GetBytes(bss.Start, checked((int)(bss.End - bss.Start)));
                int nonZero = span.IndexOfAnyExcept((byte)0);
                Assert.True(nonZero < 0, $".bss of PT_LOAD[{bss.ProgramHeaderIndex}] has a non-zero byte at 0x{bss.Start + (ulong)nonZero:x}");
            }

            // W^X: no step asked for write and execute at once.
            Assert.DoesNotContain(image.MappingSteps, s =>
                (s.Protection & (MemoryProtection.Write | MemoryProtection.Execute)) == (MemoryProtection.Write | MemoryProtection.Execute));

            // The descriptor was closed right after the overlays.
            Assert.DoesNotContain(nameInMaps, ProcFds.Targets().Except(before.Fds));
        }
        finally
        {
            image.Dispose();
        }
        Assert.Equal(MappingStepKind.Unmap, image.MappingSteps[^1].Kind);
        before.AssertNothingLeft(identity, nameInMaps, [((ulong)reserved.Start, (ulong)reserved.End)]);
    }

    private static MapsEntry EntryAt(IReadOnlyList<MapsEntry> maps, nint address) =>
        maps.Single(m => m.Start <= (ulong)address && (ulong)address < m.End);
}
