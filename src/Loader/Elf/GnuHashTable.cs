namespace Loader.Elf;

/// <summary>
/// The GNU hash table (DT_GNU_HASH): a Bloom filter, buckets, and chains whose last entry has bit 0 set.
/// Only symbols from <see cref="SymbolOffset"/> on are hashed, and the highest chain's end gives the
/// symbol count, which is how a loader sizes DT_SYMTAB without section headers.
/// </summary>
public sealed class GnuHashTable
{
    private readonly ReadOnlyMemory<byte> _bloom;
    private readonly ReadOnlyMemory<byte> _buckets;
    private readonly ReadOnlyMemory<byte> _chains;
    private readonly ElfEncoding _enc;
    private readonly string _fileName;

    private GnuHashTable(uint bucketCount, uint symbolOffset, uint bloomSize, uint bloomShift,
        ReadOnlyMemory<byte> bloom, ReadOnlyMemory<byte> buckets, ReadOnlyMemory<byte> chains,
        ElfEncoding enc, ulong address, int symbolCount, string fileName)
    {
        BucketCount = bucketCount;
        SymbolOffset = symbolOffset;
        BloomSize = bloomSize;
        BloomShift = bloomShift;
        _bloom = bloom;
        _buckets = buckets;
        _chains = chains;
        _enc = enc;
        Address = address;
        SymbolCount = symbolCount;
        _fileName = fileName;
    }

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

    /// <summary>The GNU hash of a name (h = h * 33 + c, from 5381).</summary>
    public static uint Hash(ReadOnlySpan<byte> name)
    {
        uint h = 5381;
        foreach (byte c in name)
            h = h * 33 + c;
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
        var bloom = all.Slice(16, (int)bloomBytes);
        var buckets = all.Slice(16 + (int)bloomBytes, (int)bucketBytes);
        var chains = all[(16 + (int)bloomBytes + (int)bucketBytes)..];
        ulong chainsAddress = address + 16 + bloomBytes + bucketBytes;

        uint maxBucket = 0;
        var bs = buckets.Span;
        for (int i = 0; i < (int)nbuckets; i++)
        {
            uint b = enc.U32(bs, i * 4);
            if (b != 0 && b < symoffset)
                ThrowHelper.Format(view.FileName, field + " bucket", address + 16 + bloomBytes + (ulong)i * 4,
                    $"bucket {i} starts at symbol {b}, below symoffset {symoffset}");
            maxBucket = Math.Max(maxBucket, b);
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
        return new GnuHashTable(nbuckets, symoffset, bloomSize, bloomShift, bloom, buckets, chains[..chainBytes],
            enc, address, count, view.FileName);
    }

    /// <summary>The Bloom filter test: false means the name is certainly not defined here.</summary>
    public bool MayContain(uint hash)
    {
        int bits = _enc.WordSize * 8;
        var bloom = _bloom.Span;
        int wordIndex = (int)((hash / (uint)bits) & (BloomSize - 1));
        ulong word = _enc.Word(bloom, wordIndex * _enc.WordSize);
        ulong mask = (1UL << (int)(hash % (uint)bits)) | (1UL << (int)((hash >> (int)BloomShift) % (uint)bits));
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
        if (!MayContain(hash))
            return -1;
        var bs = _buckets.Span;
        uint index = _enc.U32(bs, (int)(hash % BucketCount) * 4);
        if (index == 0)
            return -1;
        var cs = _chains.Span;
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

    private readonly struct DelegateMatcher(Func<int, bool> match) : ISymbolIndexMatcher
    {
        public bool Matches(int index) => match(index);
    }
}
