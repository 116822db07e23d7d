namespace Loader.Elf;

/// <summary>The System V hash table (DT_HASH): nbucket, nchain, buckets, chains. nchain is the symbol count.</summary>
public sealed class SysvHashTable
{
    private readonly TableBytes _buckets;
    private readonly TableBytes _chains;
    private readonly ElfEncoding _enc;
    private readonly string _fileName;

    private SysvHashTable(uint bucketCount, uint chainCount, ReadOnlyMemory<byte> buckets, ReadOnlyMemory<byte> chains, ElfEncoding enc, ulong address, string fileName)
    {
        BucketCount = bucketCount;
        ChainCount = chainCount;
        _buckets = buckets;
        _chains = chains;
        _enc = enc;
        Address = address;
        _fileName = fileName;
    }

    /// <summary>nbucket.</summary>
    public uint BucketCount { get; }
    /// <summary>nchain, which equals the number of dynamic symbols.</summary>
    public uint ChainCount { get; }
    /// <summary>The table's virtual address.</summary>
    public ulong Address { get; }

    /// <summary>The System V ELF hash of a name (gABI, "Hash Table").</summary>
    public static uint Hash(ReadOnlySpan<byte> name)
    {
        uint h = 0;
        foreach (byte c in name)
            h = Step(h, c);
        return h;
    }

    /// <summary>The System V hash of an ASCII name held as chars (each char is its byte).</summary>
    internal static uint Hash(ReadOnlySpan<char> asciiName)
    {
        uint h = 0;
        foreach (char c in asciiName)
            h = Step(h, c);
        return h;
    }

    /// <summary>One character of the hash: shift in, fold the top nibble back down.</summary>
    private static uint Step(uint h, uint c)
    {
        h = (h << 4) + c;
        uint g = h & 0xf0000000;
        if (g != 0)
            h ^= g >> 24;
        return h & ~g;
    }

    internal static SysvHashTable Read(VirtualView view, ulong address, ElfEncoding enc)
    {
        const string field = "DT_HASH";
        var header = view.Read(address, 8, field).Span;
        uint nbucket = enc.U32(header, 0), nchain = enc.U32(header, 4);
        if (nbucket == 0)
            ThrowHelper.Format(view.FileName, field + " nbucket", address, "is 0");
        var all = view.Read(address, 8 + ((ulong)nbucket + nchain) * 4, field);
        return new SysvHashTable(nbucket, nchain, all.Slice(8, (int)nbucket * 4), all[(8 + (int)nbucket * 4)..], enc, address, view.FileName);
    }

    /// <summary>
    /// Calls <paramref name="match"/> for each symbol index on the hash's chain until it returns true.
    /// A chain that loops or leaves the table is an <see cref="ElfFormatException"/>, never a hang.
    /// </summary>
    public int Find(uint hash, Func<int, bool> match)
    {
        var matcher = new DelegateMatcher(match);
        return Find(hash, ref matcher);
    }

    /// <summary>The allocation-free form of <see cref="Find(uint, Func{int, bool})"/>.</summary>
    internal int Find<TMatcher>(uint hash, scoped ref TMatcher match) where TMatcher : ISymbolIndexMatcher, allows ref struct
    {
        uint index = _enc.U32(_buckets.Span, (int)(hash % BucketCount) * 4);
        var cs = _chains.Span;
        for (uint steps = 0; index != 0; steps++)
        {
            if (index >= ChainCount)
                ThrowHelper.Format(_fileName, "DT_HASH chain", Address, $"symbol index {index} is past nchain {ChainCount}");
            if (steps >= ChainCount)
                ThrowHelper.Format(_fileName, "DT_HASH chain", Address, $"chain for hash 0x{hash:x} loops (longer than nchain {ChainCount})");
            if (match.Matches((int)index))
                return (int)index;
            index = _enc.U32(cs, (int)index * 4);
        }
        return -1;
    }

    private readonly struct DelegateMatcher(Func<int, bool> match) : ISymbolIndexMatcher
    {
        public bool Matches(int index) => match(index);
    }
}
