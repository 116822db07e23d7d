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
    /// The suffix to print after <paramref name="symbolName"/>. A version's own definition symbol (the
    /// <c>SHN_ABS</c> symbol <c>VERS_1</c> carrying version <c>VERS_1</c>) is printed bare, as readelf and objdump do.
    /// </summary>
    public string SuffixFor(string symbolName) => Name == symbolName ? "" : Suffix;
}
