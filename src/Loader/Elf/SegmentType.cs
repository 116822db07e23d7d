namespace Loader.Elf;

/// <summary><c>p_type</c>: what a program header describes.</summary>
public enum SegmentType : uint
{
    /// <summary>PT_NULL: unused entry.</summary>
    Null = 0,
    /// <summary>PT_LOAD: a loadable segment.</summary>
    Load = 1,
    /// <summary>PT_DYNAMIC: the dynamic section.</summary>
    Dynamic = 2,
    /// <summary>PT_INTERP: the program interpreter's path.</summary>
    Interp = 3,
    /// <summary>PT_NOTE: notes.</summary>
    Note = 4,
    /// <summary>PT_SHLIB: reserved.</summary>
    ShLib = 5,
    /// <summary>PT_PHDR: the program header table itself.</summary>
    Phdr = 6,
    /// <summary>PT_TLS: the thread-local storage template.</summary>
    Tls = 7,
    /// <summary>PT_GNU_EH_FRAME: the .eh_frame_hdr table.</summary>
    GnuEhFrame = 0x6474e550,
    /// <summary>PT_GNU_STACK: stack permissions.</summary>
    GnuStack = 0x6474e551,
    /// <summary>PT_GNU_RELRO: read-only after relocation.</summary>
    GnuRelro = 0x6474e552,
    /// <summary>PT_GNU_PROPERTY: the .note.gnu.property section.</summary>
    GnuProperty = 0x6474e553,
    /// <summary>PT_GNU_SFRAME: the .sframe section.</summary>
    GnuSFrame = 0x6474e554,
}
