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
    // No index of the versions by number is kept (a loaded module would hold it as long as it lives): a linker numbers
    // the definitions 1, 2, 3… in file order, so then FindDefinition reads position index-1, and scans only a file
    // that numbers them otherwise; the needed versions are a few dozen at most and scanned. Both are arrays of values
    // whose names are the process's one copy (InternedNames); the public records are made when asked for.
    private readonly Definition[] _definitions;
    private readonly Needed[] _needs;
    private readonly bool _definitionsNumberedInOrder;

    // A definition's parents (the versions it inherits; libz's each name the one before) are read again when asked for.
    private readonly ReadOnlyMemory<byte> _verdef;
    private readonly StringTable _strings;

    /// <summary>One Elf_Verdef: its first name, and where its other Elf_Verdaux entries (its parents) begin.</summary>
    private readonly record struct Definition(ushort Index, ushort Flags, uint Hash, string Name, int ParentsAt, ushort ParentCount);

    /// <summary>One Elf_Vernaux, with its Elf_Verneed's file and position (the entries of one Elf_Verneed share it).</summary>
    private readonly record struct Needed(ushort Index, ushort Flags, uint Hash, string Name, string File, int Need);

    private SymbolVersionTable(ReadOnlyMemory<byte> versym, ElfEncoding enc, ReadOnlyMemory<byte> verdef, StringTable strings,
        Definition[] definitions, Needed[] needs)
    {
        _verdef = verdef;
        _strings = strings;
        _versym = versym;
        _enc = enc;
        _definitions = definitions;
        _needs = needs;
        _definitionsNumberedInOrder = true;
        for (int i = 0; i < definitions.Length; i++)
            _definitionsNumberedInOrder &= definitions[i].Index == i + 1;
    }

    /// <summary>The versions this object defines (DT_VERDEF), in file order (made when asked for).</summary>
    public IReadOnlyList<VersionDefinition> Definitions
    {
        get
        {
            var result = new VersionDefinition[_definitions.Length];
            for (int i = 0; i < result.Length; i++)
            {
                var d = _definitions[i];
                result[i] = new VersionDefinition(d.Index, d.Flags, d.Hash, d.Name, ParentsOf(d));
            }
            return result;
        }
    }

    /// <summary>The versions this object needs (DT_VERNEED), in file order (made when asked for).</summary>
    public IReadOnlyList<VersionNeed> Needs
    {
        get
        {
            var result = new List<VersionNeed>();
            for (int i = 0; i < _needs.Length;)
            {
                int first = i;
                while (i < _needs.Length && _needs[i].Need == _needs[first].Need)
                    i++;
                var entries = new VersionNeedEntry[i - first];
                for (int j = 0; j < entries.Length; j++)
                {
                    var n = _needs[first + j];
                    entries[j] = new VersionNeedEntry(n.Index, n.Flags, n.Hash, n.Name);
                }
                result.Add(new VersionNeed(_needs[first].File, entries));
            }
            return result;
        }
    }

    /// <summary>The names of a definition's Elf_Verdaux entries after the first (checked when the table was read).</summary>
    private string[] ParentsOf(Definition definition)
    {
        if (definition.ParentCount == 0)
            return [];
        var bytes = _verdef.Span;
        var parents = new string[definition.ParentCount];
        int at = definition.ParentsAt;
        for (int i = 0; i < parents.Length; i++)
        {
            parents[i] = InternedNames.Get(_strings.GetBytes(_enc.U32(bytes, at)));
            at += (int)_enc.U32(bytes, at + 4);
        }
        return parents;
    }

    /// <summary>The name of the definition with VER_NDX_GLOBAL's index 1 (the base: the soname), or null.</summary>
    internal string? BaseDefinitionName
    {
        get
        {
            foreach (var d in _definitions)
                if (d.Index == 1)
                    return d.Name;
            return null;
        }
    }

    /// <summary>The name of the first definition with <paramref name="index"/>, or null.</summary>
    private string? FindDefinition(ushort index)
    {
        if (_definitionsNumberedInOrder)
            return index >= 1 && index <= _definitions.Length ? _definitions[index - 1].Name : null;
        foreach (var d in _definitions)
            if (d.Index == index)
                return d.Name;
        return null;
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
        if (isDefined && raw != (VersymHidden | 1) && FindDefinition(index) is { } name)
            return new SymbolVersion(index, hidden ? SymbolVersionKind.Hidden : SymbolVersionKind.Default, name, null);
        if (FindNeed(index) is var need and >= 0)
            return new SymbolVersion(index, SymbolVersionKind.Needed, _needs[need].Name, _needs[need].File);
        return new SymbolVersion(index, SymbolVersionKind.None, null, null);
    }

    internal static SymbolVersionTable Read(VirtualView view, DynamicSection dyn, StringTable strings, int symbolCount, ElfEncoding enc)
    {
        var versym = dyn.TryGet(DynamicTag.VerSym, out ulong versymAddress)
            ? view.Read(versymAddress, (ulong)symbolCount * 2, "DT_VERSYM")
            : ReadOnlyMemory<byte>.Empty;
        bool hasVerdef = dyn.TryGet(DynamicTag.VerDef, out ulong verdefAddress);
        var verdef = hasVerdef ? view.ReadToEnd(verdefAddress, "DT_VERDEF") : ReadOnlyMemory<byte>.Empty;
        var definitions = !hasVerdef
            ? []
            : ReadDefinitions(view.FileName, verdef.Span, verdefAddress, dyn.Get(DynamicTag.VerDefNum) ?? 0, strings, enc);
        var needs = dyn.TryGet(DynamicTag.VerNeed, out ulong verneedAddress)
            ? ReadNeeds(view, verneedAddress, dyn.Get(DynamicTag.VerNeedNum) ?? 0, strings, enc)
            : [];
        return new SymbolVersionTable(versym, enc, verdef, strings, definitions, [.. needs]);
    }

    private static Definition[] ReadDefinitions(string fileName, ReadOnlySpan<byte> bytes, ulong address, ulong count, StringTable strings, ElfEncoding enc)
    {
        const string field = "DT_VERDEF";
        // DT_VERDEFNUM entries, as many as the segment can hold (a 20-byte Elf_Verdef each), in an array of that size.
        var result = new Definition[(int)Math.Min(count, (ulong)bytes.Length / 20)];
        int filled = 0;
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
            string? name = null;
            int parentsAt = 0;
            ushort parentCount = 0;
            ulong auxOffset = offset + aux;
            for (int j = 0; j < cnt; j++)
            {
                if (ThrowHelper.OutOfRange(auxOffset, 8, (ulong)bytes.Length))
                    ThrowHelper.Format(fileName, field + " vd_aux", address + auxOffset, "Elf_Verdaux runs past the end of its segment");
                var auxName = strings.GetBytes(enc.U32(bytes, (int)auxOffset)); // checked now, decoded when asked for
                if (name is null)
                    name = InternedNames.Get(auxName);
                else if (parentCount++ == 0)
                    parentsAt = (int)auxOffset;
                uint auxNext = enc.U32(bytes, (int)auxOffset + 4);
                if (auxNext == 0)
                    break;
                auxOffset += auxNext;
            }
            if (name is null)
                ThrowHelper.Format(fileName, field + " vd_cnt", address + offset, "version definition has no name");
            if (filled == result.Length) // entries closer than 20 bytes apart (vd_next overlapping them): more than estimated
                Array.Resize(ref result, Math.Max(4, filled * 2));
            result[filled++] = new Definition(ndx, flags, hash, name, parentsAt, parentCount);
            if (next == 0)
                break;
            offset += next;
        }
        if (filled < result.Length)
            Array.Resize(ref result, filled);
        return result;
    }

    private static List<Needed> ReadNeeds(VirtualView view, ulong address, ulong count, StringTable strings, ElfEncoding enc)
    {
        const string field = "DT_VERNEED";
        var bytes = view.ReadToEnd(address, field).Span;
        var result = new List<Needed>((int)Math.Min(count * 4, 64));
        ulong offset = 0;
        for (ulong i = 0; i < count; i++)
        {
            if (ThrowHelper.OutOfRange(offset, 16, (ulong)bytes.Length))
                ThrowHelper.Format(view.FileName, field, address + offset, $"entry {i} of {count} (DT_VERNEEDNUM) runs past the end of its segment");
            var vn = bytes[(int)offset..];
            ushort version = enc.U16(vn, 0), cnt = enc.U16(vn, 2);
            uint file = enc.U32(vn, 4), aux = enc.U32(vn, 8), next = enc.U32(vn, 12);
            if (version != 1)
                ThrowHelper.Format(view.FileName, field + " vn_version", address + offset, $"{version}, expected 1");
            string fileName = InternedNames.Get(strings.GetBytes(file));
            ulong auxOffset = offset + aux;
            for (int j = 0; j < cnt; j++)
            {
                if (ThrowHelper.OutOfRange(auxOffset, 16, (ulong)bytes.Length))
                    ThrowHelper.Format(view.FileName, field + " vn_aux", address + auxOffset, "Elf_Vernaux runs past the end of its segment");
                var a = bytes[(int)auxOffset..];
                result.Add(new Needed(enc.U16(a, 6), enc.U16(a, 4), enc.U32(a, 0), InternedNames.Get(strings.GetBytes(enc.U32(a, 8))), fileName, (int)i));
                uint auxNext = enc.U32(a, 12);
                if (auxNext == 0)
                    break;
                auxOffset += auxNext;
            }
            if (next == 0)
                break;
            offset += next;
        }
        return result;
    }
}
