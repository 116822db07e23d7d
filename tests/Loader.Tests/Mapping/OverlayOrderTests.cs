using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Mapping;

/// <summary>
/// A MAP_FIXED overlay that replaces pages present in the process's page tables makes the kernel flush them from the
/// TLB of every CPU the process runs on — an IPI each, the largest kernel cost of a small library's load when the
/// process has threads on other CPUs (a .NET process does). glibc's overlays replace nothing present. Loader's replace
/// nothing present either, except the one overlay whose pages the unwind-table check walked through the longer first
/// overlay when the table is too large to check in a copy (docs/architecture.md, "Mapping, as built"): that overlay
/// comes last, so the kernel's fault-around from the walk cannot reach into another overlay's range. A table checked in
/// a copy leaves no page of its PT_LOAD present, and that PT_LOAD gets no overlay of its own. The oracle is
/// <c>/proc/self/pagemap</c>, read just before each overlay's mmap (<see cref="MapOptions.BeforeStep"/>) and after the
/// mapping.
/// </summary>
[Collection("AddressSpace")]
public sealed class OverlayOrderTests
{
    public static TheoryData<string> Libraries() => TestLibraries.All();

    [Theory]
    [MemberData(nameof(Libraries))]
    public void No_overlay_replaces_a_present_page_but_the_unwind_tables_own(string path)
    {
        var overlays = PresentBeforeEachOverlay(path, out bool extended, out bool tableInFirst);
        int last = overlays.Count - 1;
        for (int i = 0; i < overlays.Count; i++)
        {
            if (extended && !tableInFirst && i == last)
                continue; // the table's own overlay: it replaces the pages the walk read (below)
            Assert.True(overlays[i].Present == 0,
                $"{path}: {overlays[i].Present} pages were present where overlay {i} ({overlays[i].Step.Reason}) was mapped");
        }
    }

    [Theory]
    [InlineData("libsqlite3.so.0")] // 17 KB of .eh_frame_hdr and 137 KB of .eh_frame: more than a copy holds
    [InlineData("libcrypto.so.3")]
    public void The_unwind_tables_overlay_comes_last_and_replaces_the_pages_the_walk_read(string library)
    {
        var overlays = PresentBeforeEachOverlay(SystemLibraries.Require(library), out bool extended, out bool tableInFirst);
        Assert.True(extended, $"{library}: the first overlay does not reach through the unwind table's PT_LOAD");
        Assert.False(tableInFirst, $"{library}: the table's PT_LOAD got no overlay of its own");
        Assert.True(overlays[^1].Present > 0, $"{library}: no page was present where the table's overlay was mapped, so the walk did not read through the longer first overlay");
        Assert.All(overlays.SkipLast(1), o => Assert.Equal(0, o.Present));
    }

    [Theory]
    [InlineData("libz.so.1")]
    [InlineData("libcap-ng.so.0")]
    public void A_table_checked_in_a_copy_leaves_its_PT_LOAD_to_the_first_overlay_and_no_page_of_it_present(string library)
    {
        string path = SystemLibraries.Require(library);
        var expected = Cli.MappingExpectations.FromReadelf(path);
        var seen = new List<(MappingStep Step, int Present)>();
        using var image = ElfImage.Map(path, new MapOptions
        {
            BeforeStep = step =>
            {
                if (step.Kind == MappingStepKind.Overlay)
                    seen.Add((step, PageMap.PresentPages(step.Address, step.Length)));
            },
        });
        // One overlay fewer than PT_LOADs with file bytes, none replacing a present page.
        Assert.Equal(expected.Overlays.Count - 1, seen.Count);
        Assert.All(seen, o => Assert.Equal(0, o.Present));
        // The PT_LOAD that holds .eh_frame_hdr is mapped by the first overlay: its pages are the file's at its own offsets
        // with its own protection, as /proc/self/maps shows them, and none is present.
        ulong header = Assert.NotNull(expected.EhFrameHeader);
        var table = expected.Overlays.Last(o => o.Address <= header);
        Assert.DoesNotContain(seen, o => (ulong)o.Step.Address == (ulong)image.BaseAddress + table.Address);
        var first = seen[0].Step;
        ulong tableStart = (ulong)image.BaseAddress + table.Address;
        Assert.True(tableStart > (ulong)first.Address && tableStart < (ulong)first.Address + first.Length);
        Assert.Equal(first.FileOffset!.Value + (tableStart - (ulong)first.Address), table.FileOffset);
        var region = Assert.Single(ProcMaps.Read(), r => r.Start == tableStart);
        Assert.Equal(table.Prot, region.Permissions[..3]);
        Assert.Equal(0, PageMap.PresentPages((nint)tableStart, region.End - region.Start));
        Assert.True(image.UnwindTableChecked is { Start: not null }, $"{library}: the check found no table to register in the copy");
    }

    /// <summary>
    /// A table in the first PT_LOAD, read and executable with the code (<c>-z noseparate-code</c>): nothing to extend,
    /// the overlays are the plan's in its order, each its own length, and the table is checked in a copy before the
    /// mapping returns (found where the walk of the mapped image finds it) — where, before, the mapper left it and
    /// the registry walked the mapped image after relocation, then dropped the walked pages with a <c>madvise</c>.
    /// </summary>
    [Fact]
    public void A_table_in_the_first_executable_PT_LOAD_is_checked_in_a_copy_with_the_plans_overlays()
    {
        string path = Fixtures.Path("noseparate_code.so");
        var expected = Cli.MappingExpectations.FromReadelf(path);
        ulong header = Assert.NotNull(expected.EhFrameHeader);
        Assert.True(header < expected.Overlays[1].Address, "the fixture's .eh_frame_hdr is not in its first PT_LOAD");
        var seen = new List<MappingStep>();
        using var image = ElfImage.Map(path, new MapOptions
        {
            BeforeStep = step =>
            {
                if (step.Kind == MappingStepKind.Overlay)
                    seen.Add(step);
            },
        });
        Assert.Equal(expected.Overlays.Select(o => (o.Address, o.FileOffset)),
            seen.Select(o => ((ulong)o.Address - (ulong)image.BaseAddress, o.FileOffset!.Value)));
        Assert.Equal(image.Plan.Overlays.Where(o => o.Length > 0).Select(o => o.Length), seen.Select(o => o.Length));
        var found = UnwindTableCheck.Find(path, image.ProgramHeaders, image.Plan, image.Memory, image.BaseAddress);
        Assert.NotNull(found);
        Assert.Equal(found.Value.Start, Assert.NotNull(image.UnwindTableChecked).Start);
    }

    /// <summary>Maps <paramref name="path"/> and counts, before each overlay's mmap, the pages present in its range.</summary>
    private static List<(MappingStep Step, int Present)> PresentBeforeEachOverlay(string path, out bool extended, out bool tableInFirst)
    {
        var seen = new List<(MappingStep Step, int Present)>();
        using var image = ElfImage.Map(path, new MapOptions
        {
            BeforeStep = step =>
            {
                if (step.Kind == MappingStepKind.Overlay)
                    seen.Add((step, PageMap.PresentPages(step.Address, step.Length)));
            },
        });
        var plan = image.Plan!;
        extended = seen.Count > 1 && seen[0].Step.Length > plan.Overlays[0].Length;
        tableInFirst = seen.Count < plan.Overlays.Count(o => o.Length > 0);
        return seen;
    }
}
