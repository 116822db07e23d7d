namespace Loader.Elf;

/// <summary><c>sh_type</c>: what a section holds.</summary>
public enum SectionType : uint
{
    /// <summary>SHT_NULL.</summary>
    Null = 0,
    /// <summary>SHT_PROGBITS.</summary>
    ProgBits = 1,
    /// <summary>SHT_SYMTAB.</summary>
    SymTab = 2,
    /// <summary>SHT_STRTAB.</summary>
    StrTab = 3,
    /// <summary>SHT_RELA.</summary>
    Rela = 4,
    /// <summary>SHT_HASH.</summary>
    Hash = 5,
    /// <summary>SHT_DYNAMIC.</summary>
    Dynamic = 6,
    /// <summary>SHT_NOTE.</summary>
    Note = 7,
    /// <summary>SHT_NOBITS.</summary>
    NoBits = 8,
    /// <summary>SHT_REL.</summary>
    Rel = 9,
    /// <summary>SHT_SHLIB.</summary>
    ShLib = 10,
    /// <summary>SHT_DYNSYM.</summary>
    DynSym = 11,
    /// <summary>SHT_INIT_ARRAY.</summary>
    InitArray = 14,
    /// <summary>SHT_FINI_ARRAY.</summary>
    FiniArray = 15,
    /// <summary>SHT_PREINIT_ARRAY.</summary>
    PreinitArray = 16,
    /// <summary>SHT_GROUP.</summary>
    Group = 17,
    /// <summary>SHT_SYMTAB_SHNDX.</summary>
    SymTabShndx = 18,
    /// <summary>SHT_RELR.</summary>
    Relr = 19,
    /// <summary>SHT_GNU_ATTRIBUTES.</summary>
    GnuAttributes = 0x6ffffff5,
    /// <summary>SHT_GNU_HASH.</summary>
    GnuHash = 0x6ffffff6,
    /// <summary>SHT_GNU_LIBLIST.</summary>
    GnuLibList = 0x6ffffff7,
    /// <summary>SHT_GNU_verdef.</summary>
    GnuVerDef = 0x6ffffffd,
    /// <summary>SHT_GNU_verneed.</summary>
    GnuVerNeed = 0x6ffffffe,
    /// <summary>SHT_GNU_versym.</summary>
    GnuVerSym = 0x6fffffff,
}
