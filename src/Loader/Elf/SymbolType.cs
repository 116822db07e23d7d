namespace Loader.Elf;

/// <summary><c>ELF_ST_TYPE(st_info)</c>.</summary>
public enum SymbolType : byte
{
    /// <summary>STT_NOTYPE.</summary>
    NoType = 0,
    /// <summary>STT_OBJECT: data.</summary>
    Object = 1,
    /// <summary>STT_FUNC: code.</summary>
    Func = 2,
    /// <summary>STT_SECTION.</summary>
    Section = 3,
    /// <summary>STT_FILE.</summary>
    File = 4,
    /// <summary>STT_COMMON.</summary>
    Common = 5,
    /// <summary>STT_TLS: a thread-local variable.</summary>
    Tls = 6,
    /// <summary>STT_GNU_IFUNC: the value is a resolver that returns the real address.</summary>
    GnuIfunc = 10,
}
