namespace Loader.Elf;

/// <summary><c>e_ident[EI_CLASS]</c>: the word size of the object.</summary>
public enum ElfClass : byte
{
    /// <summary>ELFCLASS32: 32-bit addresses and offsets.</summary>
    Elf32 = 1,
    /// <summary>ELFCLASS64: 64-bit addresses and offsets.</summary>
    Elf64 = 2,
}
