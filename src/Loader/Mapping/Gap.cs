namespace Loader.Mapping;

/// <summary>
/// Pages between two <c>PT_LOAD</c>s that belong to no segment: they stay <c>PROT_NONE</c> inside the reservation,
/// so no other mapping can land between the segments. Addresses are link-time virtual addresses.
/// </summary>
/// <param name="Address">pageup(previous p_vaddr + p_memsz).</param>
/// <param name="Length">pagedown(next p_vaddr) - Address.</param>
/// <param name="AfterProgramHeaderIndex">The PT_LOAD before the gap.</param>
/// <param name="BeforeProgramHeaderIndex">The PT_LOAD after the gap.</param>
public readonly record struct Gap(ulong Address, ulong Length, int AfterProgramHeaderIndex, int BeforeProgramHeaderIndex);
