using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// A symbol name and its GNU hash, computed once and reused for every module of a scope. Either UTF-8 bytes (a
/// relocation's name, read from a string table) or, for a lookup by a .NET string, the string's own ASCII chars:
/// hashed and compared against the string tables' bytes as they are, never transcoded (a byte of an ASCII name is
/// its char).
/// </summary>
internal readonly ref struct SymbolName
{
    public SymbolName(ReadOnlySpan<byte> bytes)
    {
        Bytes = bytes;
        GnuHash = GnuHashTable.Hash(bytes);
    }

    /// <summary>A name whose GNU hash the caller computed from these bytes (<see cref="SymbolTable.NameBytesAt(uint, out uint)"/>).</summary>
    public SymbolName(ReadOnlySpan<byte> bytes, uint gnuHash)
    {
        Bytes = bytes;
        GnuHash = gnuHash;
    }

    private SymbolName(ReadOnlySpan<char> ascii, uint gnuHash)
    {
        Chars = ascii;
        IsChars = true;
        GnuHash = gnuHash;
    }

    /// <summary>The name as its chars, hashed as they are, when every char is ASCII and none is NUL (what a C
    /// identifier is); false otherwise (the caller encodes it to UTF-8).</summary>
    public static bool TryFromAscii(ReadOnlySpan<char> name, out SymbolName result)
    {
        uint h = GnuHashTable.Hash(name, out bool ascii);
        result = ascii ? new SymbolName(name, h) : default;
        return ascii;
    }

    /// <summary>An ASCII name (no NUL) whose GNU hash the caller computed (<see cref="GnuHashTable.Hash(ReadOnlySpan{char}, out bool)"/>).</summary>
    public static SymbolName FromAscii(ReadOnlySpan<char> name, uint gnuHash) => new(name, gnuHash);

    /// <summary>The UTF-8 bytes (empty when the name is held as <see cref="Chars"/>).</summary>
    public ReadOnlySpan<byte> Bytes { get; }
    /// <summary>The ASCII chars, when <see cref="IsChars"/>.</summary>
    public ReadOnlySpan<char> Chars { get; }
    public bool IsChars { get; }
    public uint GnuHash { get; }
    /// <summary>The System V hash, computed when asked: only a module without DT_GNU_HASH needs it.</summary>
    public uint SysvHash => IsChars ? SysvHashTable.Hash(Chars) : SysvHashTable.Hash(Bytes);

    /// <summary>Whether the name at <paramref name="offset"/> of <paramref name="symbols"/>' string table is this name.</summary>
    public bool IsAt(SymbolTable symbols, uint offset) =>
        IsChars ? symbols.NameEqualsAscii(offset, Chars) : symbols.NameEqualsBytes(offset, Bytes);

    /// <summary>Whether <paramref name="utf8"/> (a name's bytes, no NUL) is this name.</summary>
    public bool Is(ReadOnlySpan<byte> utf8)
    {
        if (!IsChars)
            return utf8.SequenceEqual(Bytes);
        if (utf8.Length != Chars.Length)
            return false;
        for (int i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] != Chars[i])
                return false;
        }
        return true;
    }
}

/// <summary>What version a lookup asks for.</summary>
/// <param name="Name">The version name, or null for an unversioned lookup.</param>
/// <param name="Exact">True for <c>dlvsym</c>-style lookups (glibc's <c>version-&gt;hidden</c>): only that version
/// matches; false for a relocation's reference, which also accepts an unversioned definition.</param>
/// <param name="Newest">For an unversioned lookup: true as <c>dlsym</c> (<c>DL_LOOKUP_RETURN_NEWEST</c>: the default
/// <c>@@</c> version), false as a relocation (the base or oldest definition, index ≤ 2).</param>
internal readonly record struct VersionRequest(string? Name, bool Exact, bool Newest)
{
    public static VersionRequest Relocation(SymbolVersion version) =>
        version.Kind == SymbolVersionKind.None || version.Name is null ? default : new(version.Name, false, false);

    /// <summary>
    /// A relocation's request for symbol <paramref name="symbolIndex"/> of <paramref name="tables"/>, as
    /// <see cref="Relocation(SymbolVersion)"/> makes it but with the version name left where it lies in the
    /// referencing module's DT_STRTAB: compared as bytes, never made a string (a library binds thousands).
    /// </summary>
    public static VersionRequest Relocation(DynamicTables tables, int symbolIndex, bool isDefined)
    {
        if (tables.Versions is not { } versions || !versions.TryGetNameOffset(symbolIndex, isDefined, out uint offset))
            return default;
        return new VersionRequest(null, false, false) { NameTable = tables.Strings, NameOffset = offset, HasNameBytes = true };
    }

    /// <summary>With <see cref="HasNameBytes"/>: the table that holds the wanted version's name.</summary>
    public StringTable NameTable { get; init; }
    /// <summary>With <see cref="HasNameBytes"/>: where the wanted version's name lies in <see cref="NameTable"/>.</summary>
    public uint NameOffset { get; init; }
    /// <summary>True when the wanted version is named by <see cref="NameTable"/> and <see cref="NameOffset"/>
    /// rather than by <see cref="Name"/>.</summary>
    public bool HasNameBytes { get; init; }

    public static VersionRequest Export(string? version) => new(version, version is not null, true);
}

/// <summary>A definition found by a lookup.</summary>
internal readonly record struct ResolvedSymbol(Module Module, int Index, ElfSymbol Symbol)
{
    /// <summary>The absolute address of the definition (SHN_ABS symbols are not relocated); an IFUNC's resolver.</summary>
    public ulong Address => Symbol.SectionIndex == ElfSymbol.SHN_ABS ? Symbol.Value : (ulong)Module.Base + Symbol.Value;

    public bool IsIfunc => Symbol.Type == SymbolType.GnuIfunc;
}

/// <summary>
/// Symbol lookup as glibc's <c>dl-lookup.c</c> does it: each module's DT_GNU_HASH (Bloom filter, then the bucket's
/// chain) or DT_HASH, each candidate checked by <c>check_match</c>'s rules (type, defined, name, version), then the
/// first module of the scope that has a global, weak or unique definition wins. Hidden and internal symbols are never
/// exported. Nothing here allocates, except the first lookup of an <c>STB_GNU_UNIQUE</c> name in a namespace.
/// </summary>
internal static class SymbolLookup
{
    /// <summary>Finds a matching definition in one module: its symbol index, or -1.</summary>
    public static int FindInModule(Module module, scoped in SymbolName name, in VersionRequest version)
    {
        if (module.Tables is not { Symbols: { } symbols } tables)
            return -1;
        // Most modules a lookup asks do not define the name: their Bloom filter says so before the matcher is set up.
        if (tables.GnuHash is { } bloom && !bloom.MayContain(name.GnuHash))
            return -1;
        scoped Matcher matcher = default;
        matcher.Symbols = symbols;
        matcher.Versions = tables.Versions;
        matcher.Name = name;
        matcher.Request = ref version;
        int index;
        if (tables.GnuHash is { } gnu)
            index = gnu.Find(name.GnuHash, ref matcher);
        else if (tables.SysvHash is { } sysv)
            index = sysv.Find(name.SysvHash, ref matcher);
        else
        {
            index = -1;
            for (int i = 1; i < symbols.Count && index < 0; i++)
                if (matcher.Matches(i))
                    index = i;
        }
        // check_match: an unversioned lookup that met exactly one (non-hidden) versioned definition takes it.
        if (index < 0 && matcher.VersionCount == 1)
            index = matcher.VersionedIndex;
        return index;
    }

    /// <summary>
    /// Whether a relocation's lookup of symbol <paramref name="symbolIndex"/> (its own name, hashed to
    /// <paramref name="gnuHash"/>, and the version a relocation asks for it) in <paramref name="module"/>, which defines
    /// it, finds that very entry: <see cref="FindInModule"/>'s answer without its matcher or a version request, when
    /// the entry passes check_match's own tests and the version test passes for it (the matcher's rules: a version the
    /// request names by the entry's own DT_VERDEF name, or an unversioned request and an index below 3), and the hash
    /// chain offers it first (<see cref="GnuHashTable.IsFirstWithHash"/>). False when any of that is not known to
    /// hold: the caller then looks it up.
    /// </summary>
    public static bool FindsOwnDefinition(Module module, int symbolIndex, in ElfSymbol reference, uint gnuHash)
    {
        var tables = module.Tables!;
        if (reference.IsUndefined || tables.GnuHash is not { } gnu || !Matcher.IsExportedDefinition(reference))
            return false;
        if (tables.Versions is { } versions)
        {
            // The relocation's request for this defined entry (VersionRequest.Relocation) names a version when its
            // DT_VERSYM index has a name (TryGetNameOffset): the entry's own definition, which the matcher finds again
            // for it (index 2 or more); without one, the request is unversioned, which the matcher accepts below index
            // 3 (the base or oldest definition, as a relocation asks).
            int index = versions.GetRawIndex(symbolIndex) & ~HiddenBit;
            bool named = versions.TryGetNameOffset(symbolIndex, isDefined: true, out _);
            if (named ? index < 2 : index >= 3)
                return false;
        }
        return gnu.IsFirstWithHash(gnuHash, symbolIndex);
    }

    // DT_VERSYM's hidden flag (the index is the rest): a non-default version, `name@VERS`.
    private const ushort HiddenBit = 0x8000;

    /// <summary>
    /// Searches <paramref name="modules"/> in order; the first module with a definition wins, then the namespace's
    /// final step (<see cref="ModuleNamespace.Unique"/>) applies.
    /// </summary>
    public static bool Lookup(ReadOnlySpan<Module> modules, scoped in SymbolName name, in VersionRequest version, ModuleNamespace space, out ResolvedSymbol result)
    {
        foreach (var module in modules)
        {
            int index = FindInModule(module, name, version);
            if (index < 0)
                continue;
            result = new ResolvedSymbol(module, index, module.Tables!.Symbols![index]);
            if (result.Symbol.Binding == SymbolBinding.GnuUnique)
                result = space.Unique(result); // the namespace's one definition (a call, with the symbol copied, only then)
            return true;
        }
        result = default;
        return false;
    }

    /// <summary>
    /// The first definition in <paramref name="modules"/>, without the namespace's final step: reads only the modules'
    /// tables, which are fixed once loaded, so it needs no lock. A caller that finds an <c>STB_GNU_UNIQUE</c> or IFUNC
    /// definition finishes it under the namespace's lock (<see cref="ModuleNamespace.Unique"/>,
    /// <see cref="ModuleNamespace.AddressOf"/>).
    /// </summary>
    public static bool FindFirst(ReadOnlySpan<Module> modules, scoped in SymbolName name, in VersionRequest version, out ResolvedSymbol result)
    {
        foreach (var module in modules)
        {
            int index = FindInModule(module, name, version);
            if (index < 0)
                continue;
            result = new ResolvedSymbol(module, index, module.Tables!.Symbols![index]);
            return true;
        }
        result = default;
        return false;
    }

    /// <summary>glibc's <c>check_match</c> for one candidate index on a hash chain.</summary>
    private ref struct Matcher : ISymbolIndexMatcher
    {
        // check_match's ALLOWED_STT: code or data definitions (sections and files are never looked up).
        private const int AllowedTypes = (1 << (int)SymbolType.NoType) | (1 << (int)SymbolType.Object) | (1 << (int)SymbolType.Func)
            | (1 << (int)SymbolType.Common) | (1 << (int)SymbolType.Tls) | (1 << (int)SymbolType.GnuIfunc);

        // Set by FindInModule on its own (scoped) local, field by field: a constructor's result was built in a temporary
        // and copied over, 64 bytes read back right after smaller stores, a store-forwarding stall in every lookup.
        public SymbolTable Symbols;
        public SymbolVersionTable? Versions;
        public SymbolName Name;
        // The request is the caller's, referred to rather than copied: a lookup makes a matcher for every module whose
        // Bloom filter lets the name through.
        public ref readonly VersionRequest Request;

        public int VersionCount;
        public int VersionedIndex;

        public bool Matches(int index)
        {
            var sym = Symbols[index];
            if (!IsExportedDefinition(sym))
                return false;
            if (!Name.IsAt(Symbols, sym.NameOffset))
                return false;
            if (Versions is null)
                return true; // an unversioned library: any definition matches
            ushort raw = Versions.GetRawIndex(index);
            int ndx = raw & ~HiddenBit;
            bool hidden = (raw & HiddenBit) != 0;
            if (Request.HasNameBytes)
            {
                // The same rule as below, the names compared where they lie (the definer's DT_STRTAB, the referrer's).
                if (!DefinedVersionOffset(index, ndx, out uint definedOffset))
                    return !Request.Exact && !hidden;
                return Symbols.NameEqualsBytes(definedOffset, Request.NameTable.GetBytes(Request.NameOffset));
            }
            if (Request.Name is { } wanted)
            {
                string? defined = DefinedVersionName(index, ndx);
                if (defined == wanted)
                    return true;
                // glibc: a different version matches only when the reference is not exact, and the definition is
                // unversioned (its l_versions[ndx].hash is 0) and not hidden.
                return !Request.Exact && defined is null && !hidden;
            }
            if (ndx >= (Request.Newest ? 2 : 3))
            {
                if (!hidden && VersionCount++ == 0)
                    VersionedIndex = index;
                return false;
            }
            return true;
        }

        /// <summary>check_match's tests of the definition alone (before its name and version): defined, an allowed
        /// type, global, weak or unique, not hidden or internal.</summary>
        public static bool IsExportedDefinition(in ElfSymbol sym)
        {
            var type = sym.Type;
            if ((sym.Value == 0 && sym.SectionIndex != ElfSymbol.SHN_ABS && type != SymbolType.Tls) || sym.IsUndefined)
                return false;
            if (((1 << (int)type) & AllowedTypes) == 0)
                return false;
            if (sym.Binding is not (SymbolBinding.Global or SymbolBinding.Weak or SymbolBinding.GnuUnique))
                return false; // local: never exported
            // A linker turns hidden and internal symbols local; a table that still has them does not export them.
            return sym.Visibility is not (SymbolVisibility.Hidden or SymbolVisibility.Internal);
        }

        /// <summary><see cref="DefinedVersionName"/>'s name as a DT_STRTAB offset of the definer; false for none.</summary>
        private readonly bool DefinedVersionOffset(int index, int ndx, out uint offset)
        {
            offset = 0;
            if (ndx >= 2)
                return Versions!.TryGetNameOffset(index, isDefined: true, out offset);
            return ndx == 1 && Versions!.TryGetBaseDefinitionOffset(out offset);
        }

        private readonly string? DefinedVersionName(int index, int ndx)
        {
            if (ndx >= 2)
                return Versions!.Get(index, isDefined: true).Name;
            if (ndx == 1)
            {
                // VER_NDX_GLOBAL: glibc's l_versions[1] is the base definition (the soname) when there is one.
                return Versions!.BaseDefinitionName;
            }
            return null;
        }
    }
}
