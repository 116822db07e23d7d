namespace Loader.Elf;

/// <summary><c>e_machine</c>: the instruction set. Only the common values are named; any other number is kept as is.</summary>
public enum ElfMachine : ushort
{
    /// <summary>EM_NONE.</summary>
    None = 0,
    /// <summary>EM_SPARC.</summary>
    Sparc = 2,
    /// <summary>EM_386: Intel 80386.</summary>
    I386 = 3,
    /// <summary>EM_MIPS.</summary>
    Mips = 8,
    /// <summary>EM_PPC: 32-bit PowerPC.</summary>
    PowerPC = 20,
    /// <summary>EM_PPC64: 64-bit PowerPC.</summary>
    PowerPC64 = 21,
    /// <summary>EM_S390: IBM S/390 and z/Architecture.</summary>
    S390 = 22,
    /// <summary>EM_ARM: 32-bit ARM.</summary>
    Arm = 40,
    /// <summary>EM_SPARCV9.</summary>
    SparcV9 = 43,
    /// <summary>EM_X86_64: AMD x86-64.</summary>
    X86_64 = 62,
    /// <summary>EM_AARCH64: 64-bit ARM.</summary>
    AArch64 = 183,
    /// <summary>EM_RISCV.</summary>
    RiscV = 243,
    /// <summary>EM_LOONGARCH.</summary>
    LoongArch = 258,
}
