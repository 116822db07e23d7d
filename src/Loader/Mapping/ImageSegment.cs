namespace Loader.Mapping;

/// <summary>
/// One region of a mapped image, as the kernel holds it: a PT_LOAD's file pages (split where PT_GNU_RELRO ends),
/// its anonymous .bss pages, or a PROT_NONE gap.
/// </summary>
/// <param name="Start">The absolute address of the first byte.</param>
/// <param name="Size">The length in bytes (whole pages).</param>
/// <param name="Protection">The current protection (RELRO is read-only once applied).</param>
/// <param name="Content">What the region holds.</param>
/// <param name="FileOffset">The file offset mapped at <paramref name="Start"/>, or null for anonymous pages and gaps.</param>
/// <param name="FileSize">How many of the region's bytes come from the file.</param>
/// <param name="MemorySize">How many of the region's bytes belong to the segment's p_memsz (the rest is page padding).</param>
/// <param name="Sections">The allocated sections that intersect the region.</param>
/// <param name="ProgramHeaderIndex">The PT_LOAD the region belongs to, or null for a gap.</param>
/// <param name="VirtualAddress">The link-time address of <paramref name="Start"/> (Start minus the load bias).</param>
public sealed record ImageSegment(
    nint Start,
    ulong Size,
    MemoryProtection Protection,
    SegmentContent Content,
    ulong? FileOffset,
    ulong FileSize,
    ulong MemorySize,
    IReadOnlyList<string> Sections,
    int? ProgramHeaderIndex,
    ulong VirtualAddress)
{
    /// <summary>The first address past the region.</summary>
    public nint End => (nint)((ulong)Start + Size);

    /// <summary>One line: <c>0x7f…000-0x7f…000 r-x text offset 0x1000 .init .plt .text .fini</c>.</summary>
    public override string ToString() =>
        $"0x{Start:x}-0x{End:x} {Protection.ToMapsString()} {Content.Describe()}"
        + (FileOffset is { } o ? $" offset 0x{o:x}" : "")
        + (Sections.Count > 0 ? " " + string.Join(' ', Sections) : "");
}
