namespace Loader.Elf;

/// <summary>
/// Symbol versioning: DT_VERSYM (one index per dynamic symbol), DT_VERDEF (versions this object defines) and
/// DT_VERNEED (versions it needs from others). Chains are bounded by DT_VERDEFNUM/DT_VERNEEDNUM and by the
/// bytes of their segment, so a looping chain is an error, not a hang.
/// </summary>
public sealed class SymbolVersionTable
{
    private const ushort VersymHidden = 0x8000;
    private readonly TableBytes _versym;
    private readonly ElfEncoding _enc;
    // The tables this one belongs to: their string table, and the view and dynamic section the chains are found from
    // again for the public lists (one copy of each per image, which keeps its tables while it is loaded).
    private readonly DynamicTables _tables;
    // The chains stay where they are (the mapped image): they were checked when the table was read, and are found and
    // walked again only for the public lists. What a lookup needs is kept small: each definition's name as its DT_STRTAB
    // offset, in file order (a linker numbers the definitions 1, 2, 3…, so then FindDefinition reads position
    // index-1; the numbers are kept only for a file that numbers them otherwise), and each needed version's index,
    // name and file, scanned (a few dozen at most). Names become strings when asked for, the process's one copy
    // (InternedNames).
    private readonly uint[] _definitionNames;
    private readonly ushort[]? _definitionIndexes;
    private readonly Needed[] _needs;

    // How many definitions, and needed versions, a chain's single walk keeps on the stack (libc defines 40).
    private const int ChainOnStack = 64;

    // Not []: Array.Empty<Needed>()'s class constructor is compiled by the JIT on the first load (docs/benchmarks.md).
    private static readonly Needed[] NoNeeds = new Needed[0];

    /// <summary>One Elf_Vernaux: the index DT_VERSYM uses, its name, and its Elf_Verneed's file (DT_STRTAB offsets).</summary>
    private readonly record struct Needed(ushort Index, uint Name, uint File);

    /// <summary>A version chain where it lies, with what its messages name.</summary>
    private readonly record struct Chain(ReadOnlyMemory<byte> Bytes, ulong Address, ulong Count, string FileName);

    private SymbolVersionTable(ReadOnlyMemory<byte> versym, DynamicTables tables,
        uint[] definitionNames, ushort[]? definitionIndexes, Needed[] needs)
    {
        _versym = versym;
        _enc = tables.Encoding;
        _tables = tables;
        _definitionNames = definitionNames;
        _definitionIndexes = definitionIndexes;
        _needs = needs;
    }

    /// <summary>The versions this object defines (DT_VERDEF), in file order (read when asked for).</summary>
    public IReadOnlyList<VersionDefinition> Definitions
    {
        get
        {
            var result = new List<VersionDefinition>(_definitionNames.Length);
            WalkDefinitions(DefinitionChain(_tables), _tables.Strings, _enc, default, default, result, out _);
            return result;
        }
    }

    /// <summary>The versions this object needs (DT_VERNEED), in file order (read when asked for).</summary>
    public IReadOnlyList<VersionNeed> Needs
    {
        get
        {
            var result = new List<VersionNeed>();
            WalkNeeds(NeedChain(_tables), _tables.Strings, _enc, default, result);
            return result;
        }
    }

    private string Name(uint offset) => InternedNames.Get(_tables.Strings.GetBytes(offset));

    /// <summary>The name of the definition with VER_NDX_GLOBAL's index 1 (the base: the soname), or null.</summary>
    internal string? BaseDefinitionName => FindDefinition(1, out uint name) ? Name(name) : null;

    /// <summary>The name (a DT_STRTAB offset) of the first definition with <paramref name="index"/>.</summary>
    private bool FindDefinition(ushort index, out uint name)
    {
        name = 0;
        if (_definitionIndexes is null)
        {
            if (index < 1 || index > _definitionNames.Length)
                return false;
            name = _definitionNames[index - 1];
            return true;
        }
        for (int i = 0; i < _definitionIndexes.Length; i++)
        {
            if (_definitionIndexes[i] == index)
            {
                name = _definitionNames[i];
                return true;
            }
        }
        return false;
    }

    private int FindNeed(ushort index)
    {
        for (int i = 0; i < _needs.Length; i++)
            if (_needs[i].Index == index)
                return i;
        return -1;
    }

    /// <summary>The raw DT_VERSYM entry of a symbol (hidden bit included), or 1 (global) when the table has none.</summary>
    public ushort GetRawIndex(int symbolIndex)
    {
        var s = _versym.Span;
        return (ulong)symbolIndex * 2 + 2 <= (ulong)s.Length ? _enc.U16(s, symbolIndex * 2) : (ushort)1;
    }

    /// <summary>
    /// Where <see cref="Get"/>'s version name lies in DT_STRTAB, without making a string of it: the relocation path
    /// compares version names as bytes. False when <see cref="Get"/> would give no name.
    /// </summary>
    internal bool TryGetNameOffset(int symbolIndex, bool isDefined, out uint nameOffset)
    {
        nameOffset = 0;
        ushort raw = GetRawIndex(symbolIndex);
        ushort index = (ushort)(raw & ~VersymHidden);
        bool hidden = (raw & VersymHidden) != 0;
        if (index <= 1 && !hidden)
            return false;
        if (isDefined && raw != (VersymHidden | 1) && FindDefinition(index, out nameOffset))
            return true;
        if (FindNeed(index) is var need and >= 0)
        {
            nameOffset = _needs[need].Name;
            return true;
        }
        return false;
    }

    /// <summary>Where <see cref="BaseDefinitionName"/> lies in DT_STRTAB; false when there is no base definition.</summary>
    internal bool TryGetBaseDefinitionOffset(out uint nameOffset) => FindDefinition(1, out nameOffset);

    /// <summary>
    /// The version of a symbol. Defined symbols look in DT_VERDEF first and references in DT_VERNEED,
    /// then each the other (a copy-relocated definition can carry a needed version), as readelf does.
    /// </summary>
    public SymbolVersion Get(int symbolIndex, bool isDefined)
    {
        ushort raw = GetRawIndex(symbolIndex);
        ushort index = (ushort)(raw & ~VersymHidden);
        bool hidden = (raw & VersymHidden) != 0;
        if (index <= 1 && !hidden)
            return SymbolVersion.None;
        if (isDefined && raw != (VersymHidden | 1) && FindDefinition(index, out uint name))
            return new SymbolVersion(index, hidden ? SymbolVersionKind.Hidden : SymbolVersionKind.Default, Name(name), null);
        if (FindNeed(index) is var need and >= 0)
            return new SymbolVersion(index, SymbolVersionKind.Needed, Name(_needs[need].Name), Name(_needs[need].File));
        return new SymbolVersion(index, SymbolVersionKind.None, null, null);
    }

    /// <summary>DT_VERDEF's chain where it lies (empty without one).</summary>
    private static Chain DefinitionChain(DynamicTables tables) =>
        tables.Dynamic.TryGet(DynamicTag.VerDef, out ulong address)
            ? new Chain(tables.View.ReadToEnd(address, "DT_VERDEF"), address, tables.Dynamic.Get(DynamicTag.VerDefNum) ?? 0, tables.Name)
            : default;

    /// <summary>DT_VERNEED's chain where it lies (empty without one).</summary>
    private static Chain NeedChain(DynamicTables tables) =>
        tables.Dynamic.TryGet(DynamicTag.VerNeed, out ulong address)
            ? new Chain(tables.View.ReadToEnd(address, "DT_VERNEED"), address, tables.Dynamic.Get(DynamicTag.VerNeedNum) ?? 0, tables.Name)
            : default;

    /// <summary>Reads and checks the version tables <paramref name="tables"/>' dynamic section points to, for its
    /// <paramref name="symbolCount"/> symbols (called while <paramref name="tables"/> is being made: its view,
    /// dynamic section and strings are set).</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the buffers are read only as far as the walks wrote them
    internal static SymbolVersionTable Read(DynamicTables tables, int symbolCount)
    {
        var dyn = tables.Dynamic;
        var strings = tables.Strings;
        var enc = tables.Encoding;
        var versym = dyn.TryGet(DynamicTag.VerSym, out ulong versymAddress)
            ? tables.View.Read(versymAddress, (ulong)symbolCount * 2, "DT_VERSYM")
            : ReadOnlyMemory<byte>.Empty;
        var verdef = DefinitionChain(tables);
        var verneed = NeedChain(tables);

        // Each chain is walked once, checked as it is, into buffers on the stack; a chain longer than them (no library
        // the system has comes near) is walked again into exact arrays.
        Span<uint> namesOnStack = stackalloc uint[ChainOnStack];
        Span<ushort> indexesOnStack = stackalloc ushort[ChainOnStack];
        int definitionCount = WalkDefinitions(verdef, strings, enc, namesOnStack, indexesOnStack, null, out bool numberedInOrder);
        var definitionNames = definitionCount == 0 ? [] : new uint[definitionCount];
        var definitionIndexes = numberedInOrder ? null : new ushort[definitionCount];
        if (definitionCount > ChainOnStack)
            WalkDefinitions(verdef, strings, enc, definitionNames, definitionIndexes ?? [], null, out _);
        else
        {
            namesOnStack[..definitionCount].CopyTo(definitionNames);
            if (definitionIndexes is not null)
                indexesOnStack[..definitionCount].CopyTo(definitionIndexes);
        }
        Span<Needed> needsOnStack = stackalloc Needed[ChainOnStack];
        int needCount = WalkNeeds(verneed, strings, enc, needsOnStack, null);
        var needs = needCount == 0 ? NoNeeds : new Needed[needCount];
        if (needCount > ChainOnStack)
            WalkNeeds(verneed, strings, enc, needs, null);
        else
            needsOnStack[..needCount].CopyTo(needs);
        return new SymbolVersionTable(versym, tables, definitionNames, definitionIndexes, needs);
    }

    /// <summary>
    /// Walks DT_VERDEF's chain, checking every entry and name: returns the number of definitions, whether they are
    /// numbered 1, 2, 3… in file order, and fills what is given — each definition's name offset and index, as far as
    /// the spans reach, or the public records (with their parents).
    /// </summary>
    private static int WalkDefinitions(Chain chain, StringTable strings, ElfEncoding enc, Span<uint> names, Span<ushort> indexes,
        List<VersionDefinition>? records, out bool numberedInOrder)
    {
        const string field = "DT_VERDEF";
        var bytes = chain.Bytes.Span;
        ulong address = chain.Address, count = chain.Count;
        string fileName = chain.FileName;
        numberedInOrder = true;
        int n = 0;
        ulong offset = 0;
        for (ulong i = 0; i < count; i++)
        {
            if (ThrowHelper.OutOfRange(offset, 20, (ulong)bytes.Length))
                ThrowHelper.Format(fileName, field, address + offset, $"entry {i} of {count} (DT_VERDEFNUM) runs past the end of its segment");
            var vd = bytes[(int)offset..];
            ushort version = enc.U16(vd, 0), flags = enc.U16(vd, 2), ndx = enc.U16(vd, 4), cnt = enc.U16(vd, 6);
            uint hash = enc.U32(vd, 8), aux = enc.U32(vd, 12), next = enc.U32(vd, 16);
            if (version != 1)
                ThrowHelper.Format(fileName, field + " vd_version", address + offset, $"{version}, expected 1");
            // The first aux name is the version; the following ones (rare) the versions it inherits.
            uint name = 0;
            bool named = false;
            List<string>? parents = null;
            ulong auxOffset = offset + aux;
            for (int j = 0; j < cnt; j++)
            {
                if (ThrowHelper.OutOfRange(auxOffset, 8, (ulong)bytes.Length))
                    ThrowHelper.Format(fileName, field + " vd_aux", address + auxOffset, "Elf_Verdaux runs past the end of its segment");
                uint auxName = enc.U32(bytes, (int)auxOffset);
                strings.GetBytes(auxName); // checked now, decoded when asked for
                if (!named)
                {
                    name = auxName;
                    named = true;
                }
                else if (records is not null)
                {
                    (parents ??= []).Add(InternedNames.Get(strings.GetBytes(auxName)));
                }
                uint auxNext = enc.U32(bytes, (int)auxOffset + 4);
                if (auxNext == 0)
                    break;
                auxOffset += auxNext;
            }
            if (!named)
                ThrowHelper.Format(fileName, field + " vd_cnt", address + offset, "version definition has no name");
            numberedInOrder &= ndx == n + 1;
            if (n < names.Length)
                names[n] = name;
            if (n < indexes.Length)
                indexes[n] = ndx;
            records?.Add(new VersionDefinition(ndx, flags, hash, InternedNames.Get(strings.GetBytes(name)), parents is null ? [] : [.. parents]));
            n++;
            if (next == 0)
                break;
            offset += next;
        }
        return n;
    }

    /// <summary>
    /// Walks DT_VERNEED's chain, checking every entry and name: returns the number of needed versions (Elf_Vernaux
    /// entries), and fills what is given — each one's index, name and file, as far as the span reaches, or the public
    /// records.
    /// </summary>
    private static int WalkNeeds(Chain chain, StringTable strings, ElfEncoding enc, Span<Needed> needs, List<VersionNeed>? records)
    {
        const string field = "DT_VERNEED";
        var bytes = chain.Bytes.Span;
        ulong address = chain.Address, count = chain.Count;
        string fileName = chain.FileName;
        int n = 0;
        ulong offset = 0;
        for (ulong i = 0; i < count; i++)
        {
            if (ThrowHelper.OutOfRange(offset, 16, (ulong)bytes.Length))
                ThrowHelper.Format(fileName, field, address + offset, $"entry {i} of {count} (DT_VERNEEDNUM) runs past the end of its segment");
            var vn = bytes[(int)offset..];
            ushort version = enc.U16(vn, 0), cnt = enc.U16(vn, 2);
            uint file = enc.U32(vn, 4), aux = enc.U32(vn, 8), next = enc.U32(vn, 12);
            if (version != 1)
                ThrowHelper.Format(fileName, field + " vn_version", address + offset, $"{version}, expected 1");
            strings.GetBytes(file); // checked now, decoded when asked for
            List<VersionNeedEntry>? entries = records is null ? null : new(cnt);
            ulong auxOffset = offset + aux;
            for (int j = 0; j < cnt; j++)
            {
                if (ThrowHelper.OutOfRange(auxOffset, 16, (ulong)bytes.Length))
                    ThrowHelper.Format(fileName, field + " vn_aux", address + auxOffset, "Elf_Vernaux runs past the end of its segment");
                var a = bytes[(int)auxOffset..];
                uint name = enc.U32(a, 8);
                strings.GetBytes(name);
                if (n < needs.Length)
                    needs[n] = new Needed(enc.U16(a, 6), name, file);
                entries?.Add(new VersionNeedEntry(enc.U16(a, 6), enc.U16(a, 4), enc.U32(a, 0), InternedNames.Get(strings.GetBytes(name))));
                n++;
                uint auxNext = enc.U32(a, 12);
                if (auxNext == 0)
                    break;
                auxOffset += auxNext;
            }
            if (records is not null)
                records.Add(new VersionNeed(InternedNames.Get(strings.GetBytes(file)), entries!.ToArray()));
            if (next == 0)
                break;
            offset += next;
        }
        return n;
    }
}
