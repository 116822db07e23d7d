using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Loader.Linking;

/// <summary>
/// One Bloom filter over every symbol the global scope's modules hash, so that a relocation's lookup of a name none of
/// them defines (most of a library's references to its own exports, to its other dependencies) skips the whole global
/// scope with two bit tests instead of one Bloom filter per host library. A negative answer is exact (a Bloom filter
/// has no false negatives) and a positive one sends the lookup down the normal path, so the result is glibc's; beside
/// it, for a name that may be there, the first module that may define it (<see cref="FirstCandidate"/>), where the
/// walk starts. Built from the GNU hash values the modules' DT_GNU_HASH chains already store (no name is hashed), once
/// per global scope array (about 40 KB for the host's eight runtime libraries): the default one is shared by every
/// load until the host's modules change.
/// </summary>
internal sealed class GlobalScopeFilter
{
    // The filter of the last global scope array asked for, with the array (a new array whenever the host's modules
    // change, so a filter never goes stale): only the default policy's array is asked for (LookupScope), shared by every
    // load until it is replaced. One entry, not a ConditionalWeakTable keyed by the array (about ten types loaded on a
    // process's first load); a scope keeps the filter it was given.
    private sealed class ForScope(Module[] scope, GlobalScopeFilter? filter)
    {
        public readonly Module[] Scope = scope;
        public readonly GlobalScopeFilter? Filter = filter;
    }

    private static ForScope? s_last;

    private readonly ulong[] _words;
    private readonly uint _wordMask;
    // For each slot of the hash values (a power of two, about two slots a name), the first module of the scope whose
    // chains hold a hash in it, plus one (0 when none does: a new array needs no fill, whose vectorized code the JIT
    // would compile on the first load). A module before it defines no name with such a hash, so a lookup that gets
    // past the Bloom filter starts there: for a name the host's libc defines, at libc, not at the libdl, libpthread,
    // libstdc++, libm and libgcc_s before it. Null when the scope has more modules than a byte counts.
    private readonly byte[]? _firstModule;
    private readonly uint _slotMask;

    private GlobalScopeFilter(ulong[] words, byte[]? firstModule)
    {
        _words = words;
        _wordMask = (uint)words.Length - 1;
        _firstModule = firstModule;
        _slotMask = firstModule is null ? 0 : (uint)firstModule.Length - 1;
    }

    /// <summary>The filter for <paramref name="global"/>, or null when one of its modules has no DT_GNU_HASH (then
    /// the chains do not list its names, and every lookup takes the normal path).</summary>
    public static GlobalScopeFilter? For(Module[] global)
    {
        var last = Volatile.Read(ref s_last);
        if (last is not null && ReferenceEquals(last.Scope, global))
            return last.Filter;
        var made = new ForScope(global, Build(global)); // a pure function of the array: a race builds it twice, harmlessly
        Volatile.Write(ref s_last, made);
        return made.Filter;
    }

    /// <summary>False when no module of the global scope hashes a name whose GNU hash is <paramref name="gnuHash"/>.</summary>
    public bool MayContain(uint gnuHash)
    {
        // A chain stores the hash with bit 0 replaced by its end marker: the filter keys on the other 31 bits.
        uint key = gnuHash >> 1;
        ulong word = _words[(key >> 6) & _wordMask];
        ulong mask = Bits(key);
        return (word & mask) == mask;
    }

    /// <summary>
    /// Where a lookup of a name whose GNU hash is <paramref name="gnuHash"/> starts in the global scope: the index of the
    /// first module that may define it, or -1 when none does. Exact in both directions a lookup relies on: a module
    /// before the index, or any module at -1, hashes no name with that hash.
    /// </summary>
    public int FirstCandidate(uint gnuHash)
    {
        if (!MayContain(gnuHash))
            return -1;
        if (_firstModule is null)
            return 0;
        return _firstModule[(gnuHash >> 1) & _slotMask] - 1; // -1 when no module hashes a name into the slot
    }

    private static GlobalScopeFilter? Build(Module[] modules)
    {
        long hashed = 0;
        foreach (var module in modules)
        {
            if (module.Tables?.GnuHash is not { IsLittleEndian64: true } gnu)
                return null;
            hashed += gnu.Chains.Length / 4;
        }
        // Small, so that it stays in the cache between a load's lookups, which the relocation pass's stream of entries
        // and copied pages would otherwise evict (8 KB instead of 32 KB cut libpython's lookup time by 7 %): about six
        // bits a name and two set by each, a false positive in 14 lookups, most of them then stopped by the slot below.
        int words = (int)Math.Min(1 << 20, Math.Max(64, System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)(hashed / 16 + 1))));
        // About two slots a name (a byte each), read only for a name the Bloom filter lets through: a slot shared by
        // names of two modules names the earlier one, and the walk from there checks each module's own Bloom filter.
        byte[]? firstModule = modules.Length < byte.MaxValue
            ? new byte[(int)Math.Min(1 << 20, Math.Max(256, System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)(hashed * 2 + 1))))]
            : null;
        var filter = new GlobalScopeFilter(new ulong[words], firstModule);
        for (int m = 0; m < modules.Length; m++)
        {
            var chains = modules[m].Tables!.GnuHash!.Chains;
            for (int at = 0; at + 4 <= chains.Length; at += 4)
                filter.Add(BinaryPrimitives.ReadUInt32LittleEndian(chains[at..]) >> 1, (byte)(m + 1));
        }
        return filter;
    }

    private void Add(uint key, byte modulePlusOne)
    {
        _words[(key >> 6) & _wordMask] |= Bits(key);
        if (_firstModule is not null)
        {
            ref byte first = ref _firstModule[key & _slotMask];
            if (first == 0)
                first = modulePlusOne; // the modules are added in scope order: the first one set is the first in the scope
        }
    }

    // Two bits of the word: one from the key's low bits, one from a multiplicative mix of all of them (Fibonacci
    // hashing), so the second does not repeat the bits that chose the word.
    private static ulong Bits(uint key) => (1UL << (int)(key & 63)) | (1UL << (int)((key * 0x9E3779B1u) >> 26));
}
