namespace Loader.Elf;

/// <summary>
/// DT_RELR: packed relative relocations. An even word is an address (the next word to relocate); an odd
/// word is a bitmap of the (word size × 8 − 1) words following the last address. A bitmap before any address is invalid.
/// </summary>
public sealed class RelrTable
{
    private readonly TableBytes _bytes;
    private readonly ElfEncoding _enc;
    private readonly string _fileName;

    internal RelrTable(ulong address, ReadOnlyMemory<byte> bytes, ElfEncoding enc, string fileName)
    {
        Address = address;
        _bytes = bytes;
        _enc = enc;
        _fileName = fileName;
        EntryCount = bytes.Length / enc.WordSize;
    }

    /// <summary>The table's virtual address.</summary>
    public ulong Address { get; }

    /// <summary>The number of stored words (address and bitmap entries).</summary>
    public int EntryCount { get; }

    /// <summary>Decodes the table into the addresses it relocates, in order; a malformed table is an <see cref="ElfFormatException"/>.</summary>
    public List<ulong> DecodeAddresses()
    {
        var result = new List<ulong>(EntryCount * 2);
        ForEachAddress(result.Add);
        return result;
    }

    /// <summary>Calls <paramref name="action"/> for each relocated address.</summary>
    public void ForEachAddress(Action<ulong> action)
    {
        var visitor = new ActionVisitor(action);
        ForEachAddress(ref visitor);
    }

    /// <summary>
    /// Calls <paramref name="visitor"/> for each relocated address, in order: a struct, so the relocator's pass and
    /// the reader's check run without a delegate call per address.
    /// </summary>
    internal void ForEachAddress<TVisitor>(ref TVisitor visitor) where TVisitor : struct, IAddressVisitor, allows ref struct
    {
        var s = _bytes.Span;
        int w = _enc.WordSize;
        int bitsPerBitmap = w * 8 - 1;
        ulong next = 0;
        bool haveAddress = false;
        for (int i = 0; i < EntryCount; i++)
        {
            ulong entry = _enc.Word(s, i * w);
            if ((entry & 1) == 0)
            {
                visitor.Visit(entry);
                next = entry + (ulong)w;
                haveAddress = true;
                continue;
            }
            if (!haveAddress)
                ThrowHelper.Format(_fileName, "DT_RELR", Address + (ulong)(i * w),
                    $"entry {i} (0x{entry:x}) is a bitmap before any address entry");
            ulong bits = entry >> 1;
            while (bits != 0)
            {
                int bit = System.Numerics.BitOperations.TrailingZeroCount(bits);
                visitor.Visit(next + (ulong)(bit * w));
                bits &= bits - 1;
            }
            next += (ulong)(bitsPerBitmap * w);
        }
    }

    /// <summary>What <see cref="ForEachAddress{TVisitor}"/> calls per address.</summary>
    internal interface IAddressVisitor
    {
        void Visit(ulong address);
    }

    private readonly struct ActionVisitor(Action<ulong> action) : IAddressVisitor
    {
        public void Visit(ulong address) => action(address);
    }

    /// <summary>Visits nothing: the decode's own checks are the point (the reader validates the stream).</summary>
    internal struct NoVisitor : IAddressVisitor
    {
        public readonly void Visit(ulong address) { }
    }
}
