using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Mapping;

/// <summary>
/// A writable segment of eight pages or more, its file bytes mostly in PT_GNU_RELRO, is mapped with MAP_POPULATE when
/// the image is to be relocated (<see cref="WritablePrefault"/>): the kernel copies its pages in the overlay's mmap
/// instead of one page fault each at the relocations' first writes. The oracle is <c>/proc/self/pagemap</c>: straight
/// after that mmap (seen from the next step) every page of the segment is present and the process's own (bit 61 clear);
/// without the option most are not present at all. The rule's bounds are checked on overlays built here.
/// </summary>
public sealed class WritablePrefaultTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("loader-writable-prefault-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string> Libraries() =>
    [
        SystemLibraries.Require("libcrypto.so.3"), SystemLibraries.Require("libsqlite3.so.0"), SystemLibraries.Require("libxml2.so.2"),
    ];

    [Theory]
    [MemberData(nameof(Libraries))]
    public void A_populated_writable_segment_is_present_and_private_right_after_its_mmap(string library)
    {
        var (populated, present, filePages, pages) = MapAndLookAtTheWritableOverlay(library, prefault: true);
        Assert.True(populated, $"{library}: its writable overlay was not mapped with MAP_POPULATE");
        Assert.Equal(pages, present);
        Assert.Equal(0, filePages);
    }

    [Theory]
    [MemberData(nameof(Libraries))]
    public void Without_the_option_the_same_segment_is_left_to_fault(string library)
    {
        var (populated, present, _, pages) = MapAndLookAtTheWritableOverlay(library, prefault: false);
        Assert.False(populated);
        Assert.True(present < pages, $"{library}: {present} of {pages} pages present after an mmap without MAP_POPULATE");
    }

    [Fact]
    public void A_load_populates_by_default_and_not_when_asked_not_to()
    {
        Assert.True(LoadOptions.Default.PrefaultWritableSegments);
        Assert.True(new LoadOptions().ToMapOptions().PrefaultWritableSegments);
        Assert.False(new LoadOptions { PrefaultWritableSegments = false }.ToMapOptions().PrefaultWritableSegments);
        Assert.False(new LoadOptions { PrefaultWritableSegments = false, MaxImageSize = 1 << 24 }.ToMapOptions().PrefaultWritableSegments);
        Assert.False(MapOptions.Default.PrefaultWritableSegments); // a plain map relocates nothing: nothing would write them
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_loaded_image_lists_its_overlays_as_they_were_mapped(bool prefault)
    {
        string copy = Path.Combine(_directory, "libcrypto.so.3");
        File.Copy(SystemLibraries.Require("libcrypto.so.3"), copy, overwrite: true);
        using var context = new LoaderContext();
        using var library = context.Load(copy, new LoadOptions { PrefaultWritableSegments = prefault });
        var image = library.LoadedModule.Image!;
        var populated = image.MappingSteps.Where(s => (s.Flags & MappingFlags.Populate) != 0).ToList();
        if (!prefault)
        {
            Assert.Empty(populated);
            return;
        }
        var step = Assert.Single(populated);
        var writable = image.Plan.Overlays.Single(o => (o.Protection & MemoryProtection.Write) != 0);
        Assert.Equal((nint)((ulong)image.BaseAddress + writable.Address), step.Address);
        Assert.Equal(writable.Length, step.Length);
        Assert.Equal("MAP_PRIVATE|MAP_FIXED|MAP_POPULATE", step.Flags.ToCString());
    }

    private const ulong Page = 4096;
    private const MemoryProtection ReadWrite = MemoryProtection.Read | MemoryProtection.Write;

    private static SegmentOverlay Overlay(ulong fileSize, MemoryProtection protection = ReadWrite, int index = 3) =>
        new(index, 0x10000, 0x10000, fileSize, fileSize + 0x100, protection, Page);

    private static RelroPlan Relro(ulong size, int segment = 3) =>
        new(5, segment, 0x10000, size, 0x10000, size / Page * Page);

    [Fact]
    public void The_rule_takes_a_writable_overlay_of_eight_pages_or_more()
    {
        Assert.False(WritablePrefault.Applies(Overlay(7 * Page), Relro(7 * Page), Page));
        Assert.True(WritablePrefault.Applies(Overlay(8 * Page), Relro(8 * Page), Page));
        Assert.True(WritablePrefault.Applies(Overlay(8 * Page), null, Page)); // 32 KB outside RELRO: under the bound
        Assert.False(WritablePrefault.Applies(Overlay(64 * Page, MemoryProtection.Read), Relro(64 * Page), Page));
        Assert.False(WritablePrefault.Applies(Overlay(64 * Page, MemoryProtection.Read | MemoryProtection.Execute), null, Page));
    }

    [Fact]
    public void The_rule_leaves_a_segment_with_more_than_sixteen_mebibytes_outside_relro_to_fault()
    {
        ulong bound = WritablePrefault.MaximumBytesOutsideRelro;
        Assert.True(WritablePrefault.Applies(Overlay(bound), null, Page));
        Assert.False(WritablePrefault.Applies(Overlay(bound + 1), null, Page));
        Assert.True(WritablePrefault.Applies(Overlay(bound + 64 * Page), Relro(64 * Page), Page));
        Assert.False(WritablePrefault.Applies(Overlay(bound + 64 * Page + 8), Relro(64 * Page), Page));
        // A RELRO in another segment covers nothing of this one.
        Assert.False(WritablePrefault.Applies(Overlay(bound + 64 * Page), Relro(64 * Page, segment: 2), Page));
        // A RELRO reaching past p_filesz (into .bss) counts only its file part.
        Assert.True(WritablePrefault.Applies(Overlay(bound + 64 * Page), Relro(bound + 128 * Page), Page));
    }

    private (bool Populated, int Present, int FilePages, int Pages) MapAndLookAtTheWritableOverlay(string library, bool prefault)
    {
        // A copy of its own, just written: its pages are in the page cache, as a library's usually are.
        string copy = Path.Combine(_directory, Path.GetFileName(library));
        File.Copy(library, copy, overwrite: true);
        MappingStep? overlay = null;
        (int Present, int FilePages)? seen = null;
        var options = new MapOptions
        {
            ApplyRelro = false,
            PrefaultWritableSegments = prefault,
            BeforeStep = step =>
            {
                // The step after the writable overlay's mmap, before anything has read or written the segment.
                if (overlay is { } o && seen is null)
                    seen = PageMap.Count(o.Address, o.Length);
                if (step.Kind == MappingStepKind.Overlay && (step.Protection & MemoryProtection.Write) != 0)
                    overlay = step;
            },
        };
        using var image = ElfImage.Map(copy, options);
        Assert.True(overlay is not null, $"{library}: no writable overlay");
        Assert.True(seen is not null, $"{library}: no step after the writable overlay");
        int pages = (int)(overlay.Value.Length / (ulong)Environment.SystemPageSize);
        Assert.True(pages >= 8, $"{library}: a writable overlay of {pages} pages does not qualify");
        return ((overlay.Value.Flags & MappingFlags.Populate) != 0, seen.Value.Present, seen.Value.FilePages, pages);
    }
}
