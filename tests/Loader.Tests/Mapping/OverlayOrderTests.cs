using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Mapping;

/// <summary>
/// A MAP_FIXED overlay that replaces pages present in the process's page tables makes the kernel flush them from the
/// TLB of every CPU the process runs on — an IPI each, the largest kernel cost of a small library's load when the
/// process has threads on other CPUs (a .NET process does). glibc's overlays replace nothing present. Loader's replace
/// nothing present either, except the one overlay whose pages the unwind-table check walked through the longer first
/// overlay (docs/architecture.md, "Mapping, as built"): that overlay comes last, so the kernel's fault-around from the walk
/// cannot reach into another overlay's range. The oracle is <c>/proc/self/pagemap</c>, read just before each overlay's
/// mmap (<see cref="MapOptions.BeforeStep"/>).
/// </summary>
[Collection("AddressSpace")]
public sealed class OverlayOrderTests
{
    public static TheoryData<string> Libraries() => TestLibraries.All();

    [Theory]
    [MemberData(nameof(Libraries))]
    public void No_overlay_replaces_a_present_page_but_the_unwind_tables_own(string path)
    {
        var overlays = PresentBeforeEachOverlay(path, out bool extended);
        int last = overlays.Count - 1;
        for (int i = 0; i < overlays.Count; i++)
        {
            if (extended && i == last)
                continue; // the table's own overlay: it replaces the pages the walk read (below)
            Assert.True(overlays[i].Present == 0,
                $"{path}: {overlays[i].Present} pages were present where overlay {i} ({overlays[i].Step.Reason}) was mapped");
        }
    }

    [Theory]
    [InlineData("libz.so.1")]
    [InlineData("libsqlite3.so.0")]
    public void The_unwind_tables_overlay_comes_last_and_replaces_the_pages_the_walk_read(string library)
    {
        var overlays = PresentBeforeEachOverlay(SystemLibraries.Require(library), out bool extended);
        Assert.True(extended, $"{library}: the first overlay does not reach through the unwind table's PT_LOAD");
        Assert.True(overlays[^1].Present > 0, $"{library}: no page was present where the table's overlay was mapped, so the walk did not read through the longer first overlay");
        Assert.All(overlays.SkipLast(1), o => Assert.Equal(0, o.Present));
    }

    /// <summary>Maps <paramref name="path"/> and counts, before each overlay's mmap, the pages present in its range.</summary>
    private static List<(MappingStep Step, int Present)> PresentBeforeEachOverlay(string path, out bool extended)
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
        return seen;
    }
}
