using System.Text;

namespace Loader.Tests.Elf;

// The dynamic symbol table and the two hash tables over it.
public sealed partial class ElfImageBuilder
{
    private readonly record struct SymbolSpec(string Name, bool Defined, byte Info, ushort Version);

    /// <summary>The symbols before ordering: two undefined ones the image needs, six it defines.</summary>
    private static readonly SymbolSpec[] SymbolSpecs =
    [
        new("ext_func", false, 0x12, 3),      // GLOBAL FUNC, needs GLIBC_2.2.5 from libc.so.6
        new("ext_data", false, 0x11, 1),      // GLOBAL OBJECT, unversioned
        new("alpha", true, 0x12, 2),          // alpha@@LIBTEST_1.0
        new("beta", true, 0x12, 0x8002),      // beta@LIBTEST_1.0 (hidden)
        new("gamma_data", true, 0x11, 1),
        new("delta", true, 0x22, 1),          // WEAK FUNC
        new("epsilon", true, 0x12, 1),
        new("zeta_with_a_longer_name", true, 0x12, 1),
    ];

    private const uint GnuBucketCount = 3;
    private const int BloomWords = 2;
    private const uint SysvBucketCount = 5;

    /// <summary>The GNU hash (dl_new_hash): h = h * 33 + c from 5381.</summary>
    public static uint GnuHash(string name)
    {
        uint h = 5381;
        foreach (byte c in Encoding.UTF8.GetBytes(name))
            h = unchecked((h << 5) + h + c);
        return h;
    }

    /// <summary>The System V ELF hash (gABI, "Hash Table").</summary>
    public static uint SysvHash(string name)
    {
        uint h = 0;
        foreach (byte c in Encoding.UTF8.GetBytes(name))
        {
            h = unchecked((h << 4) + c);
            uint high = h & 0xf000_0000;
            if (high != 0)
                h ^= high >> 24;
            h &= 0x0fff_ffff;
        }
        return h;
    }

    /// <summary>The symbols in table order after the null one, as ld lays them out: the undefined ones, then the
    /// defined ones sorted by GNU hash bucket (stable). <c>symoffset</c> is the index of the first defined one.</summary>
    private static (List<SymbolSpec> Ordered, int SymOffset) OrderSymbols()
    {
        var undefined = SymbolSpecs.Where(s => !s.Defined).ToList();
        var defined = SymbolSpecs.Where(s => s.Defined).OrderBy(s => GnuHash(s.Name) % GnuBucketCount).ToList();
        return (undefined.Concat(defined).ToList(), 1 + undefined.Count);
    }

    /// <summary>The symbols with their values: functions in LOAD0's text range, data in .data.</summary>
    private List<TestSymbol> PlaceSymbols(List<SymbolSpec> ordered, ulong dataAddress)
    {
        var symbols = new List<TestSymbol> { new("", 0, 0, false, 0, 0) };
        int funcIndex = 0;
        foreach (var s in ordered)
        {
            ulong value = !s.Defined ? 0 : s.Info == 0x11 ? dataAddress + 0x30 : (ulong)(0x200 + 0x10 * funcIndex++);
            symbols.Add(new TestSymbol(s.Name, value, s.Defined ? (ulong)(s.Info == 0x11 ? 8 : 16) : 0, s.Defined, s.Info, Versions ? s.Version : (ushort)0));
        }
        return symbols;
    }

    /// <summary>.dynsym, and the .dynstr its names point into.</summary>
    private void WriteSymbolTable(BuiltElf image, ElfLayout layout, List<TestSymbol> symbols, StringTableBuilder dynstr, byte[] dynstrBytes)
    {
        byte[] bytes = image.Bytes;
        for (int i = 0; i < symbols.Count; i++)
        {
            var s = symbols[i];
            int o = layout.DynsymOffset + i * layout.SymbolEntrySize;
            uint name = i == 0 ? 0 : dynstr[s.Name];
            ushort shndx = s.Defined ? (ushort)1 : (ushort)0;
            if (Is64)
            {
                image.WriteU32(o, name); bytes[o + 4] = s.Info; bytes[o + 5] = 0; image.WriteU16(o + 6, shndx);
                image.WriteU64(o + 8, s.Value); image.WriteU64(o + 16, s.Size);
            }
            else
            {
                image.WriteU32(o, name); image.WriteU32(o + 4, (uint)s.Value); image.WriteU32(o + 8, (uint)s.Size);
                bytes[o + 12] = s.Info; bytes[o + 13] = 0; image.WriteU16(o + 14, shndx);
            }
        }
        dynstrBytes.CopyTo(bytes, layout.DynstrOffset);
    }

    /// <summary>DT_GNU_HASH: header, Bloom filter, buckets, chains (hash with bit 0 marking each chain's end).</summary>
    private void WriteGnuHash(BuiltElf image, ElfLayout layout, List<TestSymbol> symbols, int symoffset)
    {
        int w = WordSize, bits = w * 8, at = layout.GnuHashOffset, symCount = symbols.Count;
        uint shift = Is64 ? 6u : 5u;
        image.WriteU32(at, GnuBucketCount); image.WriteU32(at + 4, (uint)symoffset);
        image.WriteU32(at + 8, (uint)BloomWords); image.WriteU32(at + 12, shift);
        var bloom = new ulong[BloomWords];
        int bucketsAt = at + 16 + BloomWords * w, chainsAt = bucketsAt + (int)GnuBucketCount * 4;
        for (int i = symoffset; i < symCount; i++)
        {
            uint h = GnuHash(symbols[i].Name);
            bloom[(h / (uint)bits) % (uint)BloomWords] |= (1UL << (int)(h % (uint)bits)) | (1UL << (int)((h >> (int)shift) % (uint)bits));
            uint bucket = h % GnuBucketCount;
            if (image.ReadU32(bucketsAt + (int)bucket * 4) == 0)
                image.WriteU32(bucketsAt + (int)bucket * 4, (uint)i);
            bool last = i + 1 == symCount || GnuHash(symbols[i + 1].Name) % GnuBucketCount != bucket;
            image.WriteU32(chainsAt + (i - symoffset) * 4, last ? h | 1 : h & ~1u);
        }
        for (int i = 0; i < BloomWords; i++)
            image.WriteWord(at + 16 + i * w, bloom[i]);
    }

    /// <summary>DT_HASH: nbucket, nchain, buckets, chains; each new symbol is pushed at the head of its bucket.</summary>
    private static void WriteSysvHash(BuiltElf image, ElfLayout layout, List<TestSymbol> symbols)
    {
        int at = layout.HashOffset, symCount = symbols.Count;
        image.WriteU32(at, SysvBucketCount); image.WriteU32(at + 4, (uint)symCount);
        int bucketsAt = at + 8, chainsAt = bucketsAt + (int)SysvBucketCount * 4;
        for (int i = 1; i < symCount; i++)
        {
            int b = bucketsAt + (int)(SysvHash(symbols[i].Name) % SysvBucketCount) * 4;
            image.WriteU32(chainsAt + i * 4, image.ReadU32(b));
            image.WriteU32(b, (uint)i);
        }
    }
}
