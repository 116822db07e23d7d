namespace Loader.Elf;

/// <summary><c>DT_FLAGS</c> bits.</summary>
[Flags]
public enum DynamicFlags : ulong
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>DF_ORIGIN: the object uses $ORIGIN.</summary>
    Origin = 0x1,
    /// <summary>DF_SYMBOLIC: resolve symbols in the object itself first.</summary>
    Symbolic = 0x2,
    /// <summary>DF_TEXTREL: relocations write into read-only segments.</summary>
    TextRel = 0x4,
    /// <summary>DF_BIND_NOW: resolve every relocation at load time.</summary>
    BindNow = 0x8,
    /// <summary>DF_STATIC_TLS: uses the static TLS model.</summary>
    StaticTls = 0x10,
}
