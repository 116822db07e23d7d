namespace Loader.Mapping;

/// <summary>
/// Which writable overlays of an image about to be relocated are mapped with <c>MAP_POPULATE</c>: the kernel then makes
/// the segment's private copies of its file pages inside the mmap call, instead of one page fault each when the
/// relocation pass first writes a page. The copies are the same; what goes is the trap per page (about a microsecond
/// each on a virtual machine: libpfm's 268 writable pages, libpython's 367). The relocations write nearly every such
/// page — 8,156 of the 8,402 writable file pages of the 466 libraries in <c>/usr/lib/x86_64-linux-gnu</c>, by
/// <c>readelf -r</c> — so what populating costs is the few that nothing writes, resident where glibc would have left
/// them untouched. Two bounds keep that few: a segment of fewer than <see cref="MinimumPages"/> file pages is left to
/// fault (its faults cost little, and a small library's one page of plain data would be a large part of it), and so is
/// one with more than <see cref="MaximumBytesOutsideRelro"/> of its file bytes outside <c>PT_GNU_RELRO</c> (RELRO is
/// where the linker puts the data that needs relocating; a large writable table of plain data lies outside it, and is
/// not copied whole at load). No system call is added: the flag rides on the overlay's own mmap. A hostile file gains
/// nothing it did not have: the pages populated are its own file bytes (p_filesz lies in the file, LoadPlan checks), so
/// they are never more than the file's size.
/// </summary>
internal static class WritablePrefault
{
    /// <summary>The fewest file pages a writable overlay has for its pages to be populated.</summary>
    internal const ulong MinimumPages = 8;

    /// <summary>The most file bytes of a populated overlay that lie outside PT_GNU_RELRO: 16 MiB (libpython's .data, 1.1
    /// MiB, and the 8 MiB pointer tables of scripts/gen-scale-lib.sh's million relocations, nearly all of them pointers
    /// the relocations write, are under it).</summary>
    internal const ulong MaximumBytesOutsideRelro = 16UL << 20;

    /// <summary>True when <paramref name="overlay"/> is writable and its file pages are to be populated at mmap.</summary>
    public static bool Applies(in SegmentOverlay overlay, RelroPlan? relro, ulong page)
    {
        if ((overlay.Protection & MemoryProtection.Write) == 0 || overlay.Length / page < MinimumPages)
            return false;
        ulong inRelro = 0;
        if (relro is { } r && r.SegmentProgramHeaderIndex == overlay.ProgramHeaderIndex)
        {
            // The part of [p_vaddr, p_vaddr + p_filesz) PT_GNU_RELRO covers (LoadPlan checked RELRO lies in the segment).
            ulong start = Math.Max(r.VirtualAddress, overlay.VirtualAddress);
            ulong end = Math.Min(r.VirtualAddress + r.MemorySize, overlay.VirtualAddress + overlay.FileSize);
            inRelro = end > start ? end - start : 0;
        }
        return overlay.FileSize - inRelro <= MaximumBytesOutsideRelro;
    }
}
