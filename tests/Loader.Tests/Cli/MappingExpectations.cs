using Loader.Tests.Mapping;

namespace Loader.Tests.Cli;

/// <summary>What <c>readelf -lW</c> implies about a mapped image: which PT_LOADs leave .bss pages, where the gaps
/// are, whether RELRO covers a whole page, and where each overlay goes. Addresses are link-time (add the bias).</summary>
internal sealed record MappingExpectations(
    IReadOnlyList<(int Index, ulong Address, ulong FileOffset, string Prot)> Overlays,
    IReadOnlyList<(ulong Start, ulong End)> Gaps,
    IReadOnlyList<(ulong Start, ulong End)> BssPages,
    IReadOnlyList<ulong> BssStarts,
    (ulong Start, ulong End)? Relro,
    ulong Alignment,
    ulong? EhFrameHeader)
{
    /// <summary>The most the mapper reads into a spare buffer to check the unwind table in a copy (SpareBuffers.LargestKept).</summary>
    private const ulong LargestCopy = 64 * 1024;

    private static readonly ulong Page = (ulong)Environment.SystemPageSize;

    public static ulong PageDown(ulong v) => v & ~(Page - 1);

    public static ulong PageUp(ulong v) => (v + Page - 1) & ~(Page - 1);

    /// <summary>
    /// The overlays in the order the mapper makes them, given the length its first overlay mapped: readelf's order,
    /// except that when the first overlay reaches past the second's start (on through the unwind table's PT_LOAD), the
    /// last PT_LOAD it reaches into is mapped last, after the check walked the table there — or not at all, when the
    /// mapper registers nothing itself (<paramref name="mapperRegisters"/> false), that PT_LOAD has the first one's
    /// flags and no more than 64 KiB lie from <c>.eh_frame_hdr</c> to its end: then the table is checked in a copy and
    /// the first overlay is that PT_LOAD's mapping.
    /// </summary>
    public IReadOnlyList<(int Index, ulong Address, ulong FileOffset, string Prot)> InMappingOrder(ulong firstOverlayLength,
        bool mapperRegisters = false)
    {
        if (Overlays.Count < 2 || Overlays[0].Address + firstOverlayLength <= Overlays[1].Address)
            return Overlays;
        ulong end = Overlays[0].Address + firstOverlayLength;
        int table = Overlays.Count - 1;
        while (Overlays[table].Address >= end)
            table--;
        if (!mapperRegisters && Overlays[table].Prot == Overlays[0].Prot && EhFrameHeader is { } header && end - header <= LargestCopy)
            return [.. Overlays.Where((_, i) => i != table)];
        return [.. Overlays.Where((_, i) => i != table), Overlays[table]];
    }

    public static MappingExpectations FromReadelf(string path)
    {
        var headers = TestLibraries.ReadelfProgramHeaders(path);
        var loads = headers.Where(h => h.Type == "LOAD").ToList();
        var overlays = loads.Where(l => l.FileSize > 0).Select(l => (l.Index, PageDown(l.VirtualAddress), PageDown(l.Offset),
            string.Concat(l.FlagsText.Contains('R') ? "r" : "-", l.FlagsText.Contains('W') ? "w" : "-", l.FlagsText.Contains('E') ? "x" : "-"))).ToList();
        var gaps = new List<(ulong, ulong)>();
        for (int i = 1; i < loads.Count; i++)
        {
            ulong previousEnd = PageUp(loads[i - 1].VirtualAddress + loads[i - 1].MemorySize), next = PageDown(loads[i].VirtualAddress);
            if (next > previousEnd)
                gaps.Add((previousEnd, next));
        }
        var bss = loads.Where(l => l.MemorySize > l.FileSize).ToList();
        var bssPages = bss.Select(l => (PageUp(l.VirtualAddress + l.FileSize), PageUp(l.VirtualAddress + l.MemorySize)))
            .Where(p => p.Item2 > p.Item1).ToList();
        var relro = headers.LastOrDefault(h => h.Type == "GNU_RELRO");
        (ulong, ulong)? relroPages = relro is null || PageDown(relro.VirtualAddress + relro.MemorySize) <= PageDown(relro.VirtualAddress)
            ? null : (PageDown(relro.VirtualAddress), PageDown(relro.VirtualAddress + relro.MemorySize));
        ulong alignment = Math.Max(Page, loads.Max(l => l.Align));
        ulong? ehFrameHeader = headers.LastOrDefault(h => h.Type == "GNU_EH_FRAME")?.VirtualAddress;
        return new MappingExpectations(overlays, gaps, bssPages, [.. bss.Select(l => l.VirtualAddress + l.FileSize)], relroPages, alignment,
            ehFrameHeader);
    }
}
