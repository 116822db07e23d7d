namespace Loader.Elf;

/// <summary><c>e_type</c>: the kind of object file.</summary>
public enum ElfType : ushort
{
    /// <summary>ET_NONE.</summary>
    None = 0,
    /// <summary>ET_REL: a relocatable object (.o).</summary>
    Relocatable = 1,
    /// <summary>ET_EXEC: a fixed-address executable.</summary>
    Executable = 2,
    /// <summary>ET_DYN: a shared object or a position-independent executable.</summary>
    SharedObject = 3,
    /// <summary>ET_CORE: a core dump.</summary>
    Core = 4,
}
