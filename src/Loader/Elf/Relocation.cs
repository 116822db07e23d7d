namespace Loader.Elf;

/// <summary>One REL or RELA relocation, decoded: where, what type, which symbol, and the addend.</summary>
/// <param name="Offset">r_offset: the virtual address to patch.</param>
/// <param name="Info">r_info as stored.</param>
/// <param name="Type">The machine-specific type (ELF64_R_TYPE / ELF32_R_TYPE).</param>
/// <param name="SymbolIndex">The dynamic symbol index (ELF64_R_SYM / ELF32_R_SYM); 0 for none.</param>
/// <param name="Addend">r_addend for RELA; 0 for REL (the addend is in place at the target).</param>
/// <param name="HasAddend">True for RELA.</param>
public readonly record struct Relocation(ulong Offset, ulong Info, uint Type, uint SymbolIndex, long Addend, bool HasAddend);
