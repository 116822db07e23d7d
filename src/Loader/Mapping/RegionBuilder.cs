using Loader.Elf;

namespace Loader.Mapping;

/// <summary>Cuts a plan into <see cref="PlannedRegion"/>s: each PT_LOAD's file pages and anonymous pages, split where
/// PT_GNU_RELRO begins and ends, and the gaps; each region lists the allocated sections it holds. Loops over spans and
/// the plan's own lookups, no LINQ and no interface enumeration over Loader's structs: generic code over them is not
/// in the ReadyToRun image, and a program's first <c>ElfLibrary.Segments</c> had the JIT compile some twenty methods.</summary>
internal static class RegionBuilder
{
    public static IReadOnlyList<PlannedRegion> Build(LoadPlan plan, IReadOnlyList<SectionHeader> sections)
    {
        var regions = new List<PlannedRegion>();
        RelroPlan? relro = plan.Relro is { Length: > 0 } r ? r : null;

        foreach (var o in plan.OverlaySpan)
        {
            if (o.Length > 0)
                AddSplitAtRelro(o.Address, o.Address + o.Length, o.Content, fileBacked: true);
            if (plan.BssOf(o) is { AnonymousLength: > 0 } bss)
                AddSplitAtRelro(bss.AnonymousAddress, bss.AnonymousAddress + bss.AnonymousLength, SegmentContent.Bss, fileBacked: false);
            if (GapAfter(plan.GapSpan, o.ProgramHeaderIndex) is { } gap)
                regions.Add(new PlannedRegion(gap.Address, gap.Length, MemoryProtection.None, SegmentContent.Gap, null, 0, 0,
                    SectionsIn(sections, gap.Address, gap.Address + gap.Length), null));

            void AddSplitAtRelro(ulong start, ulong end, SegmentContent content, bool fileBacked)
            {
                if (relro is { } split && split.SegmentProgramHeaderIndex == o.ProgramHeaderIndex)
                {
                    ulong rs = Math.Clamp(split.Address, start, end), re = Math.Clamp(split.Address + split.Length, start, end);
                    Add(start, rs, content, fileBacked);
                    Add(rs, re, SegmentContent.Relro, fileBacked);
                    Add(re, end, content, fileBacked);
                }
                else
                {
                    Add(start, end, content, fileBacked);
                }
            }

            void Add(ulong start, ulong end, SegmentContent content, bool fileBacked)
            {
                if (end <= start)
                    return;
                ulong from = Math.Max(start, o.VirtualAddress);
                ulong fileSize = fileBacked ? Clamp(Math.Min(end, o.VirtualAddress + o.FileSize), from) : 0;
                ulong memorySize = Clamp(Math.Min(end, o.VirtualAddress + o.MemorySize), from);
                regions.Add(new PlannedRegion(start, end - start, o.Protection, content,
                    fileBacked ? o.FileOffset + (start - o.Address) : null, fileSize, memorySize,
                    SectionsIn(sections, start, end), o.ProgramHeaderIndex));
            }
        }
        return regions;
    }

    private static ulong Clamp(ulong end, ulong start) => end > start ? end - start : 0;

    /// <summary>The gap after PT_LOAD[<paramref name="index"/>], if the plan has one (a plan has a few).</summary>
    private static Gap? GapAfter(ReadOnlySpan<Gap> gaps, int index)
    {
        foreach (var gap in gaps)
        {
            if (gap.AfterProgramHeaderIndex == index)
                return gap;
        }
        return null;
    }

    /// <summary>The names of the allocated sections that occupy memory in <c>[start, end)</c> (.tbss occupies none).</summary>
    private static string[] SectionsIn(IReadOnlyList<SectionHeader> sections, ulong start, ulong end)
    {
        var names = new List<(ulong Address, string Name)>();
        for (int i = 0; i < sections.Count; i++)
        {
            var s = sections[i];
            if ((s.Flags & SectionFlags.Alloc) == 0 || s.Size == 0)
                continue;
            if (s.Type == SectionType.NoBits && (s.Flags & SectionFlags.Tls) != 0)
                continue;
            if (s.Address < end && s.Address + s.Size > start)
                names.Add((s.Address, SectionNames.Shared(s.Name)));
        }
        // A stable insertion sort by address (sections of one region are few, and mostly in order already).
        for (int i = 1; i < names.Count; i++)
        {
            var item = names[i];
            int j = i - 1;
            for (; j >= 0 && names[j].Address > item.Address; j--)
                names[j + 1] = names[j];
            names[j + 1] = item;
        }
        var result = new string[names.Count];
        for (int i = 0; i < result.Length; i++)
            result[i] = names[i].Name;
        return result;
    }
}
