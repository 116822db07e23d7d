namespace Loader.Mapping;

/// <summary>
/// The pages of <c>PT_GNU_RELRO</c> made read-only once relocation is done. As glibc's <c>_dl_protect_relro</c>,
/// both ends are rounded <em>down</em> to a page: a partial last page may still hold writable data.
/// Addresses are link-time virtual addresses.
/// </summary>
/// <param name="ProgramHeaderIndex">The PT_GNU_RELRO's index among the program headers.</param>
/// <param name="SegmentProgramHeaderIndex">The PT_LOAD that holds it.</param>
/// <param name="VirtualAddress">p_vaddr.</param>
/// <param name="MemorySize">p_memsz.</param>
/// <param name="Address">pagedown(p_vaddr).</param>
/// <param name="Length">pagedown(p_vaddr + p_memsz) - Address; 0 when the range covers no whole page.</param>
public readonly record struct RelroPlan(
    int ProgramHeaderIndex,
    int SegmentProgramHeaderIndex,
    ulong VirtualAddress,
    ulong MemorySize,
    ulong Address,
    ulong Length);
