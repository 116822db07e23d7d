namespace Loader.Elf;

/// <summary><c>ELF_ST_BIND(st_info)</c>.</summary>
public enum SymbolBinding : byte
{
    /// <summary>STB_LOCAL.</summary>
    Local = 0,
    /// <summary>STB_GLOBAL.</summary>
    Global = 1,
    /// <summary>STB_WEAK.</summary>
    Weak = 2,
    /// <summary>STB_GNU_UNIQUE: one definition process-wide.</summary>
    GnuUnique = 10,
}
