using Loader.Elf;

namespace Loader.Mapping;

/// <summary>Cuts a plan into <see cref="PlannedRegion"/>s: each PT_LOAD's file pages and anonymous pages, split where
/// PT_GNU_RELRO begins and ends, and the gaps; each region lists the allocated sections it holds.</summary>
internal static class RegionBuilder
{
    public static IReadOnlyList<PlannedRegion> Build(LoadPlan plan, IReadOnlyList<SectionHeader> sections)
    {
        var regions = new List<PlannedRegion>();
        var bssByIndex = plan.Bss.ToDictionary(b => b.ProgramHeaderIndex);
        var gapsByAfter = plan.Gaps.ToDictionary(g => g.AfterProgramHeaderIndex);
        RelroPlan? relro = plan.Relro is { Length: > 0 } r ? r : null;

        foreach (var o in plan.Overlays)
        {
            if (o.Length > 0)
                AddSplitAtRelro(o.Address, o.Address + o.Length, o.Content, fileBacked: true);
            if (bssByIndex.TryGetValue(o.ProgramHeaderIndex, out var bss) && bss.AnonymousLength > 0)
                AddSplitAtRelro(bss.AnonymousAddress, bss.AnonymousAddress + bss.AnonymousLength, SegmentContent.Bss, fileBacked: false);
            if (gapsByAfter.TryGetValue(o.ProgramHeaderIndex, out var gap))
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

    /// <summary>The names of the allocated sections that occupy memory in <c>[start, end)</c> (.tbss occupies none).</summary>
    private static string[] SectionsIn(IReadOnlyList<SectionHeader> sections, ulong start, ulong end)
    {
        var names = new List<(ulong Address, string Name)>();
        foreach (var s in sections)
        {
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
