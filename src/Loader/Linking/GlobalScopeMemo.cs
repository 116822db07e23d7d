using System.Runtime.CompilerServices;
using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// What relocations' lookups found in a shared global scope (the host libraries of the default policy), remembered
/// across loads: a name and the version a relocation asks for it, answered by the definition the lookup found there.
/// The array and every module's tables are fixed (a new array is made when the host's libraries change, and gets a new
/// memo), and a lookup reads nothing else, so the answer a memo gives is the one the walk would give: glibc walks the
/// scope again for every <c>dlopen</c>, which a process's loads all ask the same few hundred libc names of. Only hits
/// are kept (what the scope defines bounds them; a miss, a name a library defines itself, would grow with every
/// library loaded), and only plain ones: a definition a versioned reference accepts under another version, or an
/// <c>STB_GNU_UNIQUE</c> one (the namespace's own table decides), is looked up each time.
/// </summary>
/// <remarks>
/// One <see cref="ulong"/> a slot, open addressing: the GNU hash, the module's position in the scope plus one, the
/// symbol's index and whether the request named a version (0 is an empty slot). Readers take no lock: a slot is
/// written whole (an aligned 8-byte store), and a larger table is filled before it is published. Writers take the
/// memo's lock. The name is compared against the definer's string table, the version against the name of the
/// definition's own version there: nothing is copied.
/// </remarks>
internal sealed class GlobalScopeMemo
{
    // The memo of the last array asked for: only the default policy's array is (LookupScope), shared by every load until
    // the host's modules change and a new array replaces it. One entry, not a ConditionalWeakTable keyed by the array
    // (about ten types loaded on a process's first load); a load keeps the memo it was given for as long as it needs it.
    private static GlobalScopeMemo? s_last;

    private const int FirstSize = 256;
    // 1 M slots (8 MB) at most, half of them used: more than every name the host's libraries define, twice.
    private const int MaxSize = 1 << 20;
    private const int MaxSymbolIndex = (1 << 23) - 1;
    private const ushort HiddenBit = 0x8000;

    private readonly Module[] _scope;
    private ulong[] _slots = new ulong[FirstSize];
    private int _used;
    private readonly Lock _gate = new();

    private GlobalScopeMemo(Module[] scope) => _scope = scope;

    /// <summary>The memo of <paramref name="scope"/>, a global scope array shared between loads (made once for it, while
    /// it is the newest asked for).</summary>
    public static GlobalScopeMemo For(Module[] scope)
    {
        var last = Volatile.Read(ref s_last);
        if (last is not null && ReferenceEquals(last._scope, scope))
            return last;
        var made = new GlobalScopeMemo(scope);
        var seen = Interlocked.CompareExchange(ref s_last, made, last);
        // Another thread published first: its memo, if it is for the same array.
        return ReferenceEquals(seen, last) || !ReferenceEquals(seen!._scope, scope) ? made : seen;
    }

    /// <summary>The definition a relocation's lookup of <paramref name="name"/> found in the scope before, asking for
    /// the version <paramref name="version"/> names (empty: none).</summary>
    public bool TryFind(scoped in SymbolName name, ReadOnlySpan<byte> version, bool versioned, out ResolvedSymbol found)
    {
        var slots = Volatile.Read(ref _slots);
        int mask = slots.Length - 1;
        for (int at = Start(name.GnuHash, mask); ; at = (at + 1) & mask)
        {
            ulong slot = slots[at];
            if (slot == 0)
                break;
            if ((uint)(slot >> 32) != name.GnuHash || ((slot & 1) != 0) != versioned)
                continue;
            var module = _scope[(int)((slot >> 24) & 0xff) - 1];
            int index = (int)((slot >> 1) & MaxSymbolIndex);
            var symbols = module.Tables!.Symbols!;
            var symbol = symbols[index];
            if (!name.IsAt(symbols, symbol.NameOffset) || (versioned && !HasVersion(module, index, version)))
                continue;
            found = new ResolvedSymbol(module, index, symbol);
            return true;
        }
        found = default;
        return false;
    }

    /// <summary>
    /// Remembers that the lookup of <paramref name="name"/> (with <paramref name="version"/>'s name when
    /// <paramref name="versioned"/>) found <paramref name="found"/> in the scope, when the next lookup of the same
    /// question can be told from the entry alone: the definition carries the very version asked for, or none was asked.
    /// </summary>
    public void Remember(scoped in SymbolName name, ReadOnlySpan<byte> version, bool versioned, in ResolvedSymbol found)
    {
        if (found.Symbol.Binding == SymbolBinding.GnuUnique || (uint)found.Index > MaxSymbolIndex
            || (versioned && !HasVersion(found.Module, found.Index, version)))
            return;
        int position = Module.IndexIn(_scope, found.Module);
        if (position < 0 || position >= byte.MaxValue)
            return;
        ulong entry = ((ulong)name.GnuHash << 32) | ((ulong)(position + 1) << 24) | ((ulong)found.Index << 1) | (versioned ? 1UL : 0);
        lock (_gate)
        {
            if (_slots.Length == MaxSize && (_used + 1) * 2 > MaxSize)
                return; // full: further lookups walk the scope, as without a memo
            if ((_used + 1) * 2 > _slots.Length)
                Volatile.Write(ref _slots, Grown(_slots));
            var slots = _slots;
            int mask = slots.Length - 1;
            int at = Start(name.GnuHash, mask);
            while (slots[at] != 0)
            {
                if (slots[at] == entry)
                    return; // another thread remembered it first
                at = (at + 1) & mask;
            }
            slots[at] = entry;
            _used++;
        }
    }

    /// <summary>Whether definition <paramref name="index"/> of <paramref name="module"/> is of the version named
    /// <paramref name="version"/> (its DT_VERSYM index names a DT_VERDEF with that name).</summary>
    private static bool HasVersion(Module module, int index, ReadOnlySpan<byte> version)
    {
        var tables = module.Tables!;
        if (tables.Versions is not { } versions)
            return false;
        int ndx = versions.GetRawIndex(index) & ~HiddenBit;
        return ndx >= 2 && versions.TryGetNameOffset(index, isDefined: true, out uint offset)
            && tables.Symbols!.NameEqualsBytes(offset, version);
    }

    private static ulong[] Grown(ulong[] slots)
    {
        var larger = new ulong[slots.Length * 2];
        int mask = larger.Length - 1;
        foreach (ulong entry in slots)
        {
            if (entry == 0)
                continue;
            int at = Start((uint)(entry >> 32), mask);
            while (larger[at] != 0)
                at = (at + 1) & mask;
            larger[at] = entry;
        }
        return larger;
    }

    // The GNU hash's low bits are the name's last characters: mixed first (Fibonacci hashing), as names share suffixes.
    private static int Start(uint gnuHash, int mask) => (int)((gnuHash * 0x9E3779B1u) >> 8) & mask;
}
