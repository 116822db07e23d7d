using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// <c>dlsym</c>'s search for an unversioned name held as ASCII chars — what <see cref="ElfLibrary.GetExport(string)"/>
/// asks nearly always — as one tight loop per module over its DT_GNU_HASH: the Bloom filter, the bucket, the chain,
/// and for a chain entry with the name's hash the fields <c>check_match</c> reads, decoded from the ELF64
/// little-endian entry as it lies, the name compared byte to char in the string table. The rules are
/// <see cref="SymbolLookup"/>'s for <c>VersionRequest.Export(null)</c> (glibc's <c>DL_LOOKUP_RETURN_NEWEST</c>),
/// kept in step by <c>ExportSearchTests</c>; a module without DT_GNU_HASH, or of another encoding, is searched by
/// <see cref="SymbolLookup.FindInModule"/>.
/// </summary>
internal static class ExportSearch
{
    // check_match's ALLOWED_STT: NOTYPE, OBJECT, FUNC, COMMON, TLS, GNU_IFUNC.
    private const int AllowedTypes = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 5) | (1 << 6) | (1 << 10);
    private const int SymbolEntrySize = 24;

    /// <summary>The first module of <paramref name="modules"/> that exports <paramref name="name"/> (whose GNU hash is
    /// <paramref name="hash"/>), without the namespace's final step (see <see cref="SymbolLookup.FindFirst"/>).</summary>
    // Each of these is compiled on its own: inlined into its callers, the whole search exhausts the JIT's inlining
    // budget and the span reads inside it become calls.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool TryFind(Module[] modules, ReadOnlySpan<char> name, uint hash, out ResolvedSymbol found)
    {
        foreach (var module in modules)
        {
            if (module.Tables is not { Symbols: { } symbols } tables)
                continue;
            if (tables.GnuHash is { IsLittleEndian64: true } gnu && symbols.EntrySize == SymbolEntrySize)
            {
                int index = FindInGnuTable(gnu, symbols, tables.Versions, name, hash, out var symbol);
                if (index >= 0)
                {
                    found = new ResolvedSymbol(module, index, symbol);
                    return true;
                }
            }
            else if (FindGeneral(module, name) is var other and >= 0)
            {
                found = new ResolvedSymbol(module, other, symbols[other]);
                return true;
            }
        }
        found = default;
        return false;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int FindGeneral(Module module, ReadOnlySpan<char> name)
    {
        SymbolName.TryFromAscii(name, out var key);
        return SymbolLookup.FindInModule(module, key, VersionRequest.Export(null));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int FindInGnuTable(GnuHashTable gnu, SymbolTable symbols, SymbolVersionTable? versions, ReadOnlySpan<char> name, uint hash, out ElfSymbol found)
    {
        found = default;
        if (!gnu.MayContain(hash))
            return -1;
        uint index = gnu.ChainStart(hash);
        if (index == 0)
            return -1;
        var chains = gnu.Chains;
        var entries = symbols.Entries;
        uint symbolOffset = gnu.SymbolOffset, end = (uint)gnu.SymbolCount;
        int versionedCount = 0, versionedIndex = -1;
        for (; index < end; index++)
        {
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(chains[(int)((index - symbolOffset) * 4)..]);
            if ((stored | 1) == (hash | 1))
            {
                if ((ulong)index >= (ulong)symbols.Count)
                    _ = symbols[(int)index]; // refused as the general path refuses it
                var entry = entries.Slice((int)index * SymbolEntrySize, SymbolEntrySize);
                uint nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(entry);
                byte info = entry[4], other = entry[5];
                ushort section = BinaryPrimitives.ReadUInt16LittleEndian(entry[6..]);
                ulong value = BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]);
                int type = info & 0xf, binding = info >> 4, visibility = other & 3;
                if ((value != 0 || section == ElfSymbol.SHN_ABS || type == (int)SymbolType.Tls)
                    && section != ElfSymbol.SHN_UNDEF
                    && ((1 << type) & AllowedTypes) != 0
                    && binding is (int)SymbolBinding.Global or (int)SymbolBinding.Weak or (int)SymbolBinding.GnuUnique
                    && visibility is not ((int)SymbolVisibility.Hidden or (int)SymbolVisibility.Internal)
                    && symbols.NameEqualsAscii(nameOffset, name))
                {
                    ushort raw = versions is null ? (ushort)1 : versions.GetRawIndex((int)index);
                    // An unversioned dlsym takes a base definition (index 0 or 1) at once; a versioned one only when
                    // it is the one non-hidden versioned definition on the chain (check_match's num_versions).
                    if ((raw & 0x7fff) < 2)
                    {
                        found = new ElfSymbol(nameOffset, value, BinaryPrimitives.ReadUInt64LittleEndian(entry[16..]), info, other, section);
                        return (int)index;
                    }
                    if ((raw & 0x8000) == 0 && versionedCount++ == 0)
                    {
                        versionedIndex = (int)index;
                        found = new ElfSymbol(nameOffset, value, BinaryPrimitives.ReadUInt64LittleEndian(entry[16..]), info, other, section);
                    }
                }
            }
            if ((stored & 1) != 0)
                break;
        }
        if (versionedCount == 1)
            return versionedIndex;
        found = default;
        return -1;
    }
}
