using Loader.Elf;

namespace Loader.Mapping;

/// <summary>
/// How one <c>PT_LOAD</c> is mapped from the file: <c>mmap(base + Address, Length, Protection,
/// MAP_PRIVATE|MAP_FIXED, fd, FileOffset)</c>. Addresses are link-time virtual addresses (add the load bias).
/// </summary>
/// <param name="ProgramHeaderIndex">The index of the PT_LOAD among all program headers (the N of <c>PT_LOAD[N]</c> in messages).</param>
/// <param name="Header">The program header as read.</param>
/// <param name="Address">pagedown(p_vaddr).</param>
/// <param name="Length">pageup(p_vaddr + p_filesz) - pagedown(p_vaddr); 0 when the segment has no file bytes.</param>
/// <param name="FileOffset">pagedown(p_offset).</param>
/// <param name="Protection">From p_flags.</param>
/// <param name="Content">Text, read-only data or data, from p_flags.</param>
public sealed record SegmentOverlay(
    int ProgramHeaderIndex,
    ProgramHeader Header,
    ulong Address,
    ulong Length,
    ulong FileOffset,
    MemoryProtection Protection,
    SegmentContent Content)
{
    /// <summary><c>PT_LOAD[N]</c>.</summary>
    public string Name => $"PT_LOAD[{ProgramHeaderIndex}]";

    /// <summary>The first address past the segment's memory image, page-rounded: pageup(p_vaddr + p_memsz); <see cref="Address"/>
    /// itself when p_memsz is 0 (nothing is mapped). <c>[Address, MemoryEnd)</c> is exactly the pages mapped for it.</summary>
    public ulong MemoryEnd { get; init; }
}
