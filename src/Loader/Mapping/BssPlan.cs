namespace Loader.Mapping;

/// <summary>
/// The zero-initialized part of a <c>PT_LOAD</c> whose <c>p_memsz</c> exceeds <c>p_filesz</c>: the rest of the last
/// file-backed page (which holds whatever bytes follow in the file) is zeroed, and anonymous zero pages are mapped
/// for the remainder. Addresses are link-time virtual addresses.
/// </summary>
/// <param name="ProgramHeaderIndex">The PT_LOAD's index among the program headers.</param>
/// <param name="Start">p_vaddr + p_filesz: where .bss begins.</param>
/// <param name="End">p_vaddr + p_memsz.</param>
/// <param name="ZeroFillAddress">Where the zeroing on the last file page starts (= <paramref name="Start"/>).</param>
/// <param name="ZeroFillLength">min(pageup(Start), End) - Start; 0 when Start is page-aligned or there is no file page.</param>
/// <param name="AnonymousAddress">The first anonymous page: pageup(p_vaddr + p_filesz).</param>
/// <param name="AnonymousLength">pageup(End) - AnonymousAddress; 0 when the tail page covers everything.</param>
/// <param name="Protection">The segment's protection (the anonymous pages get it too).</param>
public readonly record struct BssPlan(
    int ProgramHeaderIndex,
    ulong Start,
    ulong End,
    ulong ZeroFillAddress,
    ulong ZeroFillLength,
    ulong AnonymousAddress,
    ulong AnonymousLength,
    MemoryProtection Protection)
{
    /// <summary>True when the tail page must be made read-write for the zeroing (the segment is not writable).
    /// The temporary protection is always <c>PROT_READ|PROT_WRITE</c>, never with <c>PROT_EXEC</c>.</summary>
    public bool ZeroFillNeedsUnprotect => ZeroFillLength > 0 && (Protection & MemoryProtection.Write) == 0;
}
