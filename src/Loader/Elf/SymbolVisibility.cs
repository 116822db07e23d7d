namespace Loader.Elf;

/// <summary><c>ELF_ST_VISIBILITY(st_other)</c>.</summary>
public enum SymbolVisibility : byte
{
    /// <summary>STV_DEFAULT.</summary>
    Default = 0,
    /// <summary>STV_INTERNAL.</summary>
    Internal = 1,
    /// <summary>STV_HIDDEN.</summary>
    Hidden = 2,
    /// <summary>STV_PROTECTED.</summary>
    Protected = 3,
}
