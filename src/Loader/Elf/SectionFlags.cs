namespace Loader.Elf;

/// <summary><c>sh_flags</c>.</summary>
[Flags]
public enum SectionFlags : ulong
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>SHF_WRITE.</summary>
    Write = 0x1,
    /// <summary>SHF_ALLOC.</summary>
    Alloc = 0x2,
    /// <summary>SHF_EXECINSTR.</summary>
    ExecInstr = 0x4,
    /// <summary>SHF_MERGE.</summary>
    Merge = 0x10,
    /// <summary>SHF_STRINGS.</summary>
    Strings = 0x20,
    /// <summary>SHF_INFO_LINK.</summary>
    InfoLink = 0x40,
    /// <summary>SHF_LINK_ORDER.</summary>
    LinkOrder = 0x80,
    /// <summary>SHF_OS_NONCONFORMING.</summary>
    OsNonconforming = 0x100,
    /// <summary>SHF_GROUP.</summary>
    Group = 0x200,
    /// <summary>SHF_TLS.</summary>
    Tls = 0x400,
    /// <summary>SHF_COMPRESSED.</summary>
    Compressed = 0x800,
}
