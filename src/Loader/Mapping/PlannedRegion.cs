namespace Loader.Mapping;

/// <summary>
/// One region of the planned image, page-aligned and in address order: a PT_LOAD's file pages (split where
/// PT_GNU_RELRO ends), its anonymous .bss pages, or a gap. Addresses are link-time virtual addresses.
/// </summary>
/// <param name="Address">The first address.</param>
/// <param name="Size">The length in bytes (whole pages).</param>
/// <param name="Protection">The protection while mapping (RELRO becomes read-only later).</param>
/// <param name="Content">What the region holds.</param>
/// <param name="FileOffset">The file offset mapped at <paramref name="Address"/>, or null for anonymous pages and gaps.</param>
/// <param name="FileSize">How many of the region's bytes come from the file (the rest of the last file page is .bss).</param>
/// <param name="MemorySize">How many of the region's bytes belong to the segment's p_memsz.</param>
/// <param name="Sections">The allocated sections that intersect the region, in address order.</param>
/// <param name="ProgramHeaderIndex">The PT_LOAD the region belongs to, or null for a gap.</param>
public sealed record PlannedRegion(
    ulong Address,
    ulong Size,
    MemoryProtection Protection,
    SegmentContent Content,
    ulong? FileOffset,
    ulong FileSize,
    ulong MemorySize,
    IReadOnlyList<string> Sections,
    int? ProgramHeaderIndex)
{
    /// <summary>The first address past the region.</summary>
    public ulong End => Address + Size;
}
