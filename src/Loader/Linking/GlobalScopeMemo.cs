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
/// Open addressing over one <see cref="ulong"/> a slot: the GNU hash, whether the request named a version, and the
/// number of the entry that holds the question (the name's bytes, then the version's) and its answer (0 is an empty
/// slot). A hit reads the slot, its entry and the entry's bytes — the memo's own memory — and nothing of the definer's
/// tables: in a process whose caches the library's own work or another process filled, each of those tables' lines
/// (the definition's Elf64_Sym, its name, its DT_VERSYM entry, its version's name) is a miss of its own, and a
/// library asks the memo for every host name it binds. Readers take no lock: an entry is made whole and stored in the
/// entry array (a larger array published first) before the slot naming it is written, with a release; a larger slot
/// array is filled before it is published. Writers take the memo's lock.
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
    private const ulong VersionedBit = 1UL << 31;
    private const ulong EntryMask = VersionedBit - 1;
    private const ushort HiddenBit = 0x8000;

    private readonly Module[] _scope;
    private ulong[] _slots = new ulong[FirstSize];
    private Entry[] _entries = new Entry[FirstSize / 2];
    private int _used;
    private readonly Lock _gate = new();

    private GlobalScopeMemo(Module[] scope) => _scope = scope;

    /// <summary>A question the memo answers and its answer, never changed once published.</summary>
    private sealed class Entry
    {
        public Entry(byte[] question, int nameLength, in ResolvedSymbol answer)
        {
            Question = question;
            NameLength = nameLength;
            Answer = answer;
        }

        /// <summary>The name's bytes, then, for a versioned question, a NUL and the version's (names hold no NUL).</summary>
        public readonly byte[] Question;
        public readonly int NameLength;
        public readonly ResolvedSymbol Answer;

        public bool Asks(scoped in SymbolName name, ReadOnlySpan<byte> version, bool versioned)
        {
            var question = Question.AsSpan();
            if (question.Length != NameLength + (versioned ? 1 + version.Length : 0))
                return false;
            return name.Is(question[..NameLength]) && (!versioned || question[(NameLength + 1)..].SequenceEqual(version));
        }
    }

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
        ulong key = Key(name.GnuHash, versioned);
        for (int at = Start(name.GnuHash, mask); ; at = (at + 1) & mask)
        {
            ulong slot = Volatile.Read(ref slots[at]);
            if (slot == 0)
                break;
            if ((slot & ~EntryMask) != key)
                continue;
            var entry = Volatile.Read(ref _entries)[(int)(slot & EntryMask) - 1];
            if (!entry.Asks(name, version, versioned))
                continue;
            found = entry.Answer;
            return true;
        }
        found = default;
        return false;
    }

    /// <summary>
    /// Remembers that the lookup of <paramref name="name"/> (with <paramref name="version"/>'s name when
    /// <paramref name="versioned"/>) found <paramref name="found"/> in the scope, when the next lookup of the same
    /// question can be told from the question alone: the definition carries the very version asked for, or none was
    /// asked.
    /// </summary>
    public void Remember(scoped in SymbolName name, ReadOnlySpan<byte> version, bool versioned, in ResolvedSymbol found)
    {
        if (found.Symbol.Binding == SymbolBinding.GnuUnique || !Module.IsIn(_scope, found.Module)
            || (versioned && !HasVersion(found.Module, found.Index, version)))
            return;
        ulong key = Key(name.GnuHash, versioned);
        lock (_gate)
        {
            if (_slots.Length == MaxSize && (_used + 1) * 2 > MaxSize)
                return; // full: further lookups walk the scope, as without a memo
            if ((_used + 1) * 2 > _slots.Length)
                Volatile.Write(ref _slots, Grown(_slots));
            var slots = _slots;
            int mask = slots.Length - 1;
            int at = Start(name.GnuHash, mask);
            for (; slots[at] != 0; at = (at + 1) & mask)
            {
                if ((slots[at] & ~EntryMask) == key && _entries[(int)(slots[at] & EntryMask) - 1].Asks(name, version, versioned))
                    return; // another thread remembered it first
            }
            if (_used == _entries.Length)
            {
                var larger = new Entry[_entries.Length * 2];
                Array.Copy(_entries, larger, _used);
                Volatile.Write(ref _entries, larger);
            }
            _entries[_used] = new Entry(Question(name, version, versioned, out int nameLength), nameLength, found);
            _used++;
            Volatile.Write(ref slots[at], key | (uint)_used);
        }
    }

    private static ulong Key(uint gnuHash, bool versioned) => ((ulong)gnuHash << 32) | (versioned ? VersionedBit : 0);

    private static byte[] Question(scoped in SymbolName name, ReadOnlySpan<byte> version, bool versioned, out int nameLength)
    {
        nameLength = name.IsChars ? name.Chars.Length : name.Bytes.Length;
        var question = new byte[nameLength + (versioned ? 1 + version.Length : 0)];
        if (name.IsChars)
        {
            for (int i = 0; i < nameLength; i++)
                question[i] = (byte)name.Chars[i]; // ASCII (SymbolName.TryFromAscii)
        }
        else
        {
            name.Bytes.CopyTo(question);
        }
        if (versioned)
            version.CopyTo(question.AsSpan(nameLength + 1));
        return question;
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
