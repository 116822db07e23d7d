using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Loader.Linking;

/// <summary>
/// One Bloom filter over every symbol the global scope's modules hash, so that a relocation's lookup of a name none of
/// them defines (most of a library's references to its own exports, to its other dependencies) skips the whole global
/// scope with two bit tests instead of one Bloom filter per host library. A negative answer is exact (a Bloom filter
/// has no false negatives) and a positive one sends the lookup down the normal path, so the result is glibc's. Built
/// from the GNU hash values the modules' DT_GNU_HASH chains already store (no name is hashed), once per global scope
/// array: the default one is shared by every load until the host's modules change.
/// </summary>
internal sealed class GlobalScopeFilter
{
    // Keyed by the global scope's array (a new array whenever the host's modules change, so a filter never goes stale).
    private static readonly ConditionalWeakTable<Module[], GlobalScopeFilter?[]> s_filters = new();

    private readonly ulong[] _words;
    private readonly uint _wordMask;

    private GlobalScopeFilter(ulong[] words)
    {
        _words = words;
        _wordMask = (uint)words.Length - 1;
    }

    /// <summary>The filter for <paramref name="global"/>, or null when one of its modules has no DT_GNU_HASH (then
    /// the chains do not list its names, and every lookup takes the normal path).</summary>
    public static GlobalScopeFilter? For(Module[] global) =>
        s_filters.GetValue(global, static modules => [Build(modules)])[0];

    /// <summary>False when no module of the global scope hashes a name whose GNU hash is <paramref name="gnuHash"/>.</summary>
    public bool MayContain(uint gnuHash)
    {
        // A chain stores the hash with bit 0 replaced by its end marker: the filter keys on the other 31 bits.
        uint key = gnuHash >> 1;
        ulong word = _words[(key >> 6) & _wordMask];
        ulong mask = Bits(key);
        return (word & mask) == mask;
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
        // About 16 bits per name and two bits set by each: about one false positive in 70 lookups.
        int words = (int)Math.Min(1 << 20, Math.Max(64, System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)(hashed / 4 + 1))));
        var filter = new GlobalScopeFilter(new ulong[words]);
        foreach (var module in modules)
        {
            var chains = module.Tables!.GnuHash!.Chains;
            for (int at = 0; at + 4 <= chains.Length; at += 4)
                filter.Add(BinaryPrimitives.ReadUInt32LittleEndian(chains[at..]) >> 1);
        }
        return filter;
    }

    private void Add(uint key) => _words[(key >> 6) & _wordMask] |= Bits(key);

    // Two bits of the word: one from the key's low bits, one from a multiplicative mix of all of them (Fibonacci
    // hashing), so the second does not repeat the bits that chose the word.
    private static ulong Bits(uint key) => (1UL << (int)(key & 63)) | (1UL << (int)((key * 0x9E3779B1u) >> 26));
}
