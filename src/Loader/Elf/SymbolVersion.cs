namespace Loader.Elf;

/// <summary>What kind of version a symbol carries.</summary>
public enum SymbolVersionKind
{
    /// <summary>No version (no DT_VERSYM, or index 0/1: local or unversioned global).</summary>
    None,
    /// <summary>The default definition: <c>name@@VER</c>.</summary>
    Default,
    /// <summary>A hidden (non-default) definition: <c>name@VER</c>.</summary>
    Hidden,
    /// <summary>A reference to a version another library defines (DT_VERNEED): <c>name@VER (n)</c>.</summary>
    Needed,
}

/// <summary>A symbol's version: the DT_VERSYM index, its name, and where the name came from.</summary>
/// <param name="Index">The version index with the hidden bit cleared.</param>
/// <param name="Kind">Default, hidden or needed.</param>
/// <param name="Name">The version name (<c>GLIBC_2.14</c>), or null.</param>
/// <param name="File">For a needed version, the library expected to define it (<c>vn_file</c>).</param>
public readonly record struct SymbolVersion(ushort Index, SymbolVersionKind Kind, string? Name, string? File)
{
    /// <summary>No version.</summary>
    public static SymbolVersion None => default;

    /// <summary>The suffix readelf prints: <c>@@VER</c>, <c>@VER</c>, or empty.</summary>
    public string Suffix => Kind switch
    {
        SymbolVersionKind.Default => "@@" + Name,
        SymbolVersionKind.Hidden or SymbolVersionKind.Needed => "@" + Name,
        _ => "",
    };

    /// <summary>
    /// The version to show beside <paramref name="symbolName"/>: none for the symbol a linker emits for each version
    /// it defines (the <c>SHN_ABS</c> symbol <c>ZLIB_1.2.2</c> carrying version <c>ZLIB_1.2.2</c>), which readelf and
    /// objdump print bare; this version otherwise.
    /// </summary>
    public SymbolVersion ForDisplay(string symbolName) =>
        Kind == SymbolVersionKind.Default && Name == symbolName ? None : this;
}
