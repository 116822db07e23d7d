using Loader.Elf;
using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Mapping;

/// <summary>The plan, without any mmap, against what <c>readelf -lW</c> implies for each library.</summary>
public sealed class LoadPlanTests
{
    private static readonly ulong Page = (ulong)Environment.SystemPageSize;

    public static TheoryData<string> Libraries() => TestLibraries.All();

    [Fact]
    public void TheSystemSampleHasAtLeastTwentyLibraries() =>
        Assert.True(TestLibraries.SystemSample.Count >= 20, $"only {TestLibraries.SystemSample.Count} libraries sampled");

    [Theory]
    [MemberData(nameof(Libraries))]
    public void PlanMatchesWhatReadelfImplies(string path)
    {
        var segments = TestLibraries.ReadelfProgramHeaders(path);
        var loads = segments.Where(s => s.Type == "LOAD").ToList();
        using var file = ElfFile.Open(path);
        var plan = LoadPlan.Create(file);

        Assert.Equal(Page, plan.PageSize);
        Assert.Equal(Math.Max(Page, loads.Max(l => l.Align)), plan.Alignment);
        Assert.Equal(Down(loads[0].VirtualAddress), plan.StartAddress);
        Assert.Equal(Up(loads[^1].VirtualAddress + loads[^1].MemorySize), plan.EndAddress);

        // One overlay per PT_LOAD: page-rounded address, file-backed length and offset, protection from p_flags.
        Assert.Equal(loads.Count, plan.Overlays.Count);
        for (int i = 0; i < loads.Count; i++)
        {
            var l = loads[i];
            var o = plan.Overlays[i];
            Assert.Equal(l.Index, o.ProgramHeaderIndex);
            Assert.Equal(Down(l.VirtualAddress), o.Address);
            Assert.Equal(l.FileSize == 0 ? 0 : Up(l.VirtualAddress + l.FileSize) - Down(l.VirtualAddress), o.Length);
            Assert.Equal(Down(l.Offset), o.FileOffset);
            Assert.Equal(ProtectionOf(l), o.Protection);
            // The header's own fields, as readelf reads them (the overlay packs p_offset with the index and protection).
            Assert.Equal(l.Offset, o.Offset);
            Assert.Equal(l.VirtualAddress, o.VirtualAddress);
            Assert.Equal(l.FileSize, o.FileSize);
            Assert.Equal(l.MemorySize, o.MemorySize);
        }

        // .bss: the rest of the last file page after p_filesz, then anonymous pages to pageup(p_vaddr + p_memsz).
        var withBss = loads.Where(l => l.MemorySize > l.FileSize).ToList();
        Assert.Equal(withBss.Count, plan.Bss.Count);
        for (int i = 0; i < withBss.Count; i++)
        {
            var l = withBss[i];
            var b = plan.Bss[i];
            ulong fileEnd = l.VirtualAddress + l.FileSize, memEnd = l.VirtualAddress + l.MemorySize;
            Assert.Equal(l.Index, b.ProgramHeaderIndex);
            Assert.Equal(fileEnd, b.Start);
            Assert.Equal(memEnd, b.End);
            Assert.Equal(l.FileSize == 0 ? 0 : Math.Min(Up(fileEnd), memEnd) - fileEnd, b.ZeroFillLength);
            ulong anonymous = l.FileSize == 0 ? Down(l.VirtualAddress) : Up(fileEnd);
            Assert.Equal(anonymous, b.AnonymousAddress);
            Assert.Equal(Up(memEnd) - anonymous, b.AnonymousLength);
        }

        // Gaps: whole pages between one PT_LOAD's page-rounded end and the next one's page-rounded start.
        var gaps = new List<(ulong, ulong)>();
        for (int i = 1; i < loads.Count; i++)
        {
            ulong end = Up(loads[i - 1].VirtualAddress + loads[i - 1].MemorySize), next = Down(loads[i].VirtualAddress);
            if (next > end)
                gaps.Add((end, next - end));
        }
        Assert.Equal(gaps, plan.Gaps.Select(g => (g.Address, g.Length)));

        // RELRO: both ends rounded down to a page, as glibc's _dl_protect_relro.
        var relro = segments.LastOrDefault(s => s.Type == "GNU_RELRO");
        if (relro is null)
        {
            Assert.Null(plan.Relro);
        }
        else
        {
            var planned = Assert.NotNull(plan.Relro);
            Assert.Equal(Down(relro.VirtualAddress), planned.Address);
            Assert.Equal(Down(relro.VirtualAddress + relro.MemorySize) - Down(relro.VirtualAddress), planned.Length);
        }

        // The regions tile the span exactly, in order.
        ulong at = plan.StartAddress;
        foreach (var r in plan.Regions)
        {
            Assert.Equal(at, r.Address);
            Assert.True(r.Size > 0 && r.Size % Page == 0);
            at = r.End;
        }
        Assert.Equal(plan.EndAddress, at);
    }

    [Theory]
    [InlineData(0x1000UL, 0, 0UL, 0UL)]
    [InlineData(0x1000UL, SegmentOverlay.MaxProgramHeaderIndex, 0x7fff_ffff_f123UL, SegmentOverlay.MaxFilePage)]
    [InlineData(0x10000UL, 65535, 0x1234_5678_9abcUL, 0x1234UL)]
    [InlineData(0x8000_0000UL, 7, 0x7fff_8000_0042UL, SegmentOverlay.MaxFilePage)]
    public void AnOverlayGivesBackTheHeaderFieldsItPacks(ulong page, int index, ulong virtualAddress, ulong filePage)
    {
        ulong offset = filePage * page + virtualAddress % page; // p_offset agrees with p_vaddr modulo the page
        foreach (var protection in new[] { MemoryProtection.None, MemoryProtection.Read, MemoryProtection.Read | MemoryProtection.Execute,
                     MemoryProtection.Read | MemoryProtection.Write })
        {
            var o = new SegmentOverlay(index, virtualAddress, offset, 0x1_0000_0001, 0x2_0000_0003, protection, page);
            Assert.Equal(index, o.ProgramHeaderIndex);
            Assert.Equal(virtualAddress, o.VirtualAddress);
            Assert.Equal(offset, o.Offset);
            Assert.Equal(0x1_0000_0001UL, o.FileSize);
            Assert.Equal(0x2_0000_0003UL, o.MemorySize);
            Assert.Equal(protection, o.Protection);
            Assert.Equal(virtualAddress - virtualAddress % page, o.Address);
            Assert.Equal(offset - offset % page, o.FileOffset);
        }
    }

    [Fact]
    public void RegionsNameTheSectionsTheyHold()
    {
        using var file = ElfFile.Open(TestLibraries.Basic);
        var plan = LoadPlan.Create(file);
        var text = plan.Regions.Single(r => r.Content == SegmentContent.Text);
        Assert.Contains(".text", text.Sections);
        var sectionsWithBss = plan.Regions.Where(r => r.Sections.Contains(".bss")).ToList();
        if (file.Sections.Any(s => s.Name == ".bss"))
            Assert.NotEmpty(sectionsWithBss);
    }

    [Fact]
    public void A2MiBAlignedLibraryPlansA2MiBAlignedBase()
    {
        using var file = ElfFile.Open(Fixtures.Path("maxpage_2m.so"));
        var plan = LoadPlan.Create(file);
        Assert.Equal(0x200000UL, plan.Alignment);
        Assert.Equal(3, plan.Gaps.Count);
        // The same file is mappable with 64 KiB pages: its offsets and addresses agree modulo 2 MiB.
        var plan64k = LoadPlan.Create(file, MapOptions.Default, 0x10000);
        Assert.Equal(0x10000UL, plan64k.PageSize);
    }

    [Fact]
    public void ToStringPrintsOneLinePerStep()
    {
        using var file = ElfFile.Open(TestLibraries.Basic);
        string text = LoadPlan.Create(file).ToString();
        Assert.Contains("reserve 0x", text);
        Assert.Contains("overlay PT_LOAD[", text);
    }

    internal static MemoryProtection ProtectionOf(ReadelfProgramHeader s) =>
        ((s.Flags & ReadelfSegmentFlags.R) != 0 ? MemoryProtection.Read : 0)
        | ((s.Flags & ReadelfSegmentFlags.W) != 0 ? MemoryProtection.Write : 0)
        | ((s.Flags & ReadelfSegmentFlags.X) != 0 ? MemoryProtection.Execute : 0);

    private static ulong Down(ulong v) => v & ~(Page - 1);
    private static ulong Up(ulong v) => (v + Page - 1) & ~(Page - 1);
}
