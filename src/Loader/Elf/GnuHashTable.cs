namespace Loader.Elf;

/// <summary>
/// The GNU hash table (DT_GNU_HASH): a Bloom filter, buckets, and chains whose last entry has bit 0 set.
/// Only symbols from <see cref="SymbolOffset"/> on are hashed, and the highest chain's end gives the
/// symbol count, which is how a loader sizes DT_SYMTAB without section headers.
/// </summary>
public sealed class GnuHashTable
{
    // The whole table, header to the last chain word, as one range (an image keeps this object while it is loaded:
    // docs/benchmarks.md, "Memory held"); the buckets and the chains start at these offsets in it.
    private readonly TableBytes _table;
    private readonly int _bucketsOffset;
    private readonly int _chainsOffset;
    private readonly ElfEncoding _enc;

    private GnuHashTable(uint bucketCount, uint symbolOffset, uint bloomSize, uint bloomShift,
        ReadOnlyMemory<byte> table, int bucketsOffset, int chainsOffset, ElfEncoding enc, ulong address, int symbolCount)
    {
        BucketCount = bucketCount;
        SymbolOffset = symbolOffset;
        BloomSize = bloomSize;
        BloomShift = bloomShift;
        _table = table;
        _bucketsOffset = bucketsOffset;
        _chainsOffset = chainsOffset;
        _enc = enc;
        Address = address;
        SymbolCount = symbolCount;
        _bucketMultiplier = BucketMultiplier(bucketCount);
    }

    // hash % nbuckets without a division (Lemire's fastmod, as .NET's Dictionary does: exact for 32-bit operands).
    private readonly ulong _bucketMultiplier;

    // A Bloom word's bit count is 64 or 32: an index and a bit are a shift and a mask, not a division.
    private int WordBitsLog2 => _enc.Is64 ? 6 : 5;

    private uint Bucket(uint hash) => FastMod(hash, BucketCount, _bucketMultiplier);

    /// <summary>The multiplier of <see cref="FastMod"/> for a divisor (for 1 it wraps to 0, which still gives 0).</summary>
    internal static ulong BucketMultiplier(uint divisor) => ulong.MaxValue / divisor + 1;

    /// <summary><paramref name="value"/> % <paramref name="divisor"/> with a multiplication (Lemire, Kaser and Kurz,
    /// "Faster remainder by direct computation", 2019; .NET's <c>HashHelpers.FastMod</c>); exact for every 32-bit
    /// value and every divisor up to 2³¹, which nbuckets is (its buckets lie in one segment).</summary>
    internal static uint FastMod(uint value, uint divisor, ulong multiplier) =>
        (uint)(((((multiplier * value) >> 32) + 1) * divisor) >> 32);

    /// <summary>nbuckets.</summary>
    public uint BucketCount { get; }
    /// <summary>symoffset: the index of the first hashed symbol.</summary>
    public uint SymbolOffset { get; }
    /// <summary>bloom_size, in words.</summary>
    public uint BloomSize { get; }
    /// <summary>bloom_shift.</summary>
    public uint BloomShift { get; }
    /// <summary>The table's virtual address.</summary>
    public ulong Address { get; }
    /// <summary>The number of dynamic symbols the table implies (the end of the highest chain).</summary>
    public int SymbolCount { get; }

    /// <summary>The hash of the empty name, where every name's starts.</summary>
    internal const uint Seed = 5381;

    /// <summary>
    /// Four characters' steps at once: h·33⁴ + c₀·33³ + c₁·33² + c₂·33 + c₃ (mod 2³²) is the value of four steps of
    /// h = h * 33 + c, and the characters' terms do not wait for h, so the chain of dependent multiplications is a
    /// quarter as long. Every hash of a name here takes it (<see cref="StringTable.TryHashedBytesAt"/> too).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal static uint StepFour(uint h, uint c0, uint c1, uint c2, uint c3) =>
        h * 1185921 + c0 * 35937u + c1 * 1089u + c2 * 33u + c3;

    /// <summary>The GNU hash of a name (h = h * 33 + c, from 5381).</summary>
    public static uint Hash(ReadOnlySpan<byte> name)
    {
        uint h = Seed;
        int i = 0;
        for (; i + 4 <= name.Length; i += 4)
            h = StepFour(h, name[i], name[i + 1], name[i + 2], name[i + 3]);
        for (; i < name.Length; i++)
            h = h * 33 + name[i];
        return h;
    }

    /// <summary>The GNU hash of a name held as chars, each char taken as its byte; <paramref name="ascii"/> is false
    /// when a char is NUL or not ASCII (the value is then not the hash of the name's UTF-8 bytes).</summary>
    internal static uint Hash(ReadOnlySpan<char> name, out bool ascii)
    {
        uint h = Seed, outside = 0;
        int i = 0;
        for (; i + 4 <= name.Length; i += 4)
        {
            uint c0 = name[i], c1 = name[i + 1], c2 = name[i + 2], c3 = name[i + 3];
            h = StepFour(h, c0, c1, c2, c3);
            outside |= ((c0 - 1) | c0) | ((c1 - 1) | c1) | ((c2 - 1) | c2) | ((c3 - 1) | c3); // NUL wraps to 0xffffffff; ASCII 1..0x7f stays below 0x80
        }
        for (; i < name.Length; i++)
        {
            uint c = name[i];
            h = h * 33 + c;
            outside |= (c - 1) | c;
        }
        ascii = outside < 0x80;
        return h;
    }

    /// <summary>Reads the table at <paramref name="address"/> and walks the highest chain to count the symbols.</summary>
    internal static GnuHashTable Read(VirtualView view, ulong address, ElfEncoding enc)
    {
        const string field = "DT_GNU_HASH";
        var all = view.ReadToEnd(address, field);
        var s = all.Span;
        if (s.Length < 16)
            ThrowHelper.Format(view.FileName, field, address, "the 16-byte header runs past the end of its segment");
        uint nbuckets = enc.U32(s, 0), symoffset = enc.U32(s, 4), bloomSize = enc.U32(s, 8), bloomShift = enc.U32(s, 12);
        if (nbuckets == 0)
            ThrowHelper.Format(view.FileName, field + " nbuckets", address, "is 0");
        if (bloomSize == 0 || (bloomSize & (bloomSize - 1)) != 0)
            ThrowHelper.Format(view.FileName, field + " bloom_size", address + 8, $"{bloomSize} is not a power of two");
        ulong bloomBytes = (ulong)bloomSize * (ulong)enc.WordSize;
        ulong bucketBytes = (ulong)nbuckets * 4;
        if (ThrowHelper.OutOfRange(16, bloomBytes + bucketBytes, (ulong)s.Length))
            ThrowHelper.Format(view.FileName, field, address,
                $"bloom filter ({bloomSize} words) and {nbuckets} buckets run past the end of their segment");
        var buckets = all.Slice(16 + (int)bloomBytes, (int)bucketBytes);
        var chains = all[(16 + (int)bloomBytes + (int)bucketBytes)..];
        ulong chainsAddress = address + 16 + bloomBytes + bucketBytes;

        var bs = buckets.Span;
        uint maxBucket = enc.IsBigEndian != BitConverter.IsLittleEndian
            ? MaxBucketNative(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(bs), symoffset)
            : MaxBucket(bs, enc, symoffset);
        if (maxBucket == uint.MaxValue)
        {
            // A bucket below symoffset (0 is an empty bucket): found again, for the message.
            for (int i = 0; i < (int)nbuckets; i++)
            {
                uint b = enc.U32(bs, i * 4);
                if (b != 0 && b < symoffset)
                    ThrowHelper.Format(view.FileName, field + " bucket", address + 16 + bloomBytes + (ulong)i * 4,
                        $"bucket {i} starts at symbol {b}, below symoffset {symoffset}");
            }
        }

        int count;
        if (maxBucket == 0)
        {
            count = (int)Math.Min(symoffset, int.MaxValue);
        }
        else
        {
            // Walk the last chain to its end marker; a chain that never sets bit 0 ends at the segment's end.
            var cs = chains.Span;
            ulong index = maxBucket;
            while (true)
            {
                ulong slot = index - symoffset;
                if (slot >= (ulong)(cs.Length / 4))
                    ThrowHelper.Format(view.FileName, field + " chain", chainsAddress + slot * 4,
                        $"chain starting at symbol {maxBucket} never ends (no entry with bit 0 set before the end of its segment)");
                if ((enc.U32(cs, (int)slot * 4) & 1) != 0)
                    break;
                index++;
            }
            if (index >= int.MaxValue)
                ThrowHelper.Format(view.FileName, field + " chain", chainsAddress + (index - symoffset) * 4,
                    $"chain ends at symbol {index}, past the largest possible DT_SYMTAB");
            count = (int)(index + 1);
        }
        int chainBytes = (int)Math.Min((ulong)chains.Length, (ulong)Math.Max(0L, count - (long)symoffset) * 4UL);
        int bucketsOffset = 16 + (int)bloomBytes, chainsOffset = bucketsOffset + (int)bucketBytes;
        return new GnuHashTable(nbuckets, symoffset, bloomSize, bloomShift, all[..(chainsOffset + chainBytes)],
            bucketsOffset, chainsOffset, enc, address, count);
    }

    /// <summary>The largest bucket, or <see cref="uint.MaxValue"/> when one lies below <paramref name="symoffset"/>
    /// (and is not 0, an empty bucket): the buckets in the host's byte order, read as words, with no branch a bucket
    /// (a large library has thousands).</summary>
    private static uint MaxBucketNative(ReadOnlySpan<uint> buckets, uint symoffset)
    {
        uint max = 0, below = 0;
        uint bound = symoffset == 0 ? 0 : symoffset - 1;
        foreach (uint b in buckets)
        {
            max = Math.Max(max, b);
            below |= (b - 1 < bound) ? 1u : 0u; // 1 <= b < symoffset; an empty bucket's 0 wraps past every bound
        }
        return below != 0 ? uint.MaxValue : max;
    }

    /// <summary><see cref="MaxBucketNative"/> for a table in the other byte order.</summary>
    private static uint MaxBucket(ReadOnlySpan<byte> buckets, ElfEncoding enc, uint symoffset)
    {
        uint max = 0;
        for (int i = 0; i + 4 <= buckets.Length; i += 4)
        {
            uint b = enc.U32(buckets, i);
            if (b != 0 && b < symoffset)
                return uint.MaxValue;
            max = Math.Max(max, b);
        }
        return max;
    }

    /// <summary>True for an ELF64 little-endian table (every image Loader maps on x86_64): its chains can be read as
    /// they lie.</summary>
    internal bool IsLittleEndian64 => _enc.Is64 && !_enc.IsBigEndian;

    /// <summary>The first symbol index of <paramref name="hash"/>'s bucket (0: an empty bucket).</summary>
    internal uint ChainStart(uint hash) => _enc.U32(_table.Span, _bucketsOffset + (int)Bucket(hash) * 4);

    /// <summary>The chain words, from symbol <see cref="SymbolOffset"/> on.</summary>
    internal ReadOnlySpan<byte> Chains => _table.Span[_chainsOffset..];

    /// <summary>The Bloom filter test: false means the name is certainly not defined here.</summary>
    public bool MayContain(uint hash) => MayContain(_table.Span, hash);

    private bool MayContain(ReadOnlySpan<byte> table, uint hash)
    {
        int log2 = WordBitsLog2, bitMask = (1 << log2) - 1;
        int wordIndex = (int)((hash >> log2) & (BloomSize - 1));
        ulong word = _enc.Word(table, 16 + (wordIndex << (log2 - 3)));
        ulong mask = (1UL << (int)(hash & (uint)bitMask)) | (1UL << (int)((hash >> (int)BloomShift) & (uint)bitMask));
        return (word & mask) == mask;
    }

    /// <summary>Calls <paramref name="match"/> for each symbol index whose stored hash equals <paramref name="hash"/>, until it returns true.</summary>
    public int Find(uint hash, Func<int, bool> match)
    {
        var matcher = new DelegateMatcher(match);
        return Find(hash, ref matcher);
    }

    /// <summary>
    /// The allocation-free form of <see cref="Find(uint, Func{int, bool})"/>: the Bloom filter first, then the bucket's
    /// chain, calling <paramref name="match"/> for each index whose stored hash equals <paramref name="hash"/> (bit 0
    /// ignored) until it returns true. Returns the index, or -1.
    /// </summary>
    internal int Find<TMatcher>(uint hash, scoped ref TMatcher match) where TMatcher : ISymbolIndexMatcher, allows ref struct
    {
        var table = _table.Span;
        if (!MayContain(table, hash))
            return -1;
        uint index = _enc.U32(table, _bucketsOffset + (int)Bucket(hash) * 4);
        if (index == 0)
            return -1;
        var cs = table[_chainsOffset..];
        for (; index < (uint)SymbolCount; index++)
        {
            uint stored = _enc.U32(cs, (int)(index - SymbolOffset) * 4);
            if ((stored | 1) == (hash | 1) && match.Matches((int)index))
                return (int)index;
            if ((stored & 1) != 0)
                break;
        }
        return -1;
    }

    /// <summary>
    /// Whether <see cref="Find{TMatcher}"/> for <paramref name="hash"/> would offer <paramref name="index"/> to its
    /// matcher first: the Bloom filter lets the hash through, the bucket's chain reaches the index before it ends, and
    /// no entry before it in the chain stores the same hash (bit 0 ignored), while the index's own entry does. A lookup
    /// that knows the index's symbol matches then has Find's answer without running the matcher.
    /// </summary>
    internal bool IsFirstWithHash(uint hash, int index)
    {
        var table = _table.Span;
        if (!MayContain(table, hash) || index < (int)SymbolOffset || index >= SymbolCount)
            return false;
        uint start = _enc.U32(table, _bucketsOffset + (int)Bucket(hash) * 4);
        if (start == 0 || start > (uint)index)
            return false;
        var cs = table[_chainsOffset..];
        for (uint k = start; k < (uint)index; k++)
        {
            uint stored = _enc.U32(cs, (int)(k - SymbolOffset) * 4);
            if ((stored | 1) == (hash | 1) || (stored & 1) != 0)
                return false; // an earlier candidate, or the chain ends before the index
        }
        return (_enc.U32(cs, (index - (int)SymbolOffset) * 4) | 1) == (hash | 1);
    }

    private readonly struct DelegateMatcher(Func<int, bool> match) : ISymbolIndexMatcher
    {
        public bool Matches(int index) => match(index);
    }
}
