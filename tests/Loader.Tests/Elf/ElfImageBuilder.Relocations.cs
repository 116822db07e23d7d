namespace Loader.Tests.Elf;

// Relocations: DT_RELA (three), DT_JMPREL (one) and a DT_RELR table, all against .data.
public sealed partial class ElfImageBuilder
{
    /// <summary>DT_RELR encoding (the generic ABI proposal): an address word, then bitmap words of (bits − 1) words each.</summary>
    public static List<ulong> EncodeRelr(IReadOnlyList<ulong> addresses, int wordSize)
    {
        int bitsPerBitmap = wordSize * 8 - 1;
        var words = new List<ulong>();
        int i = 0;
        while (i < addresses.Count)
        {
            ulong next = addresses[i] + (ulong)wordSize;
            words.Add(addresses[i++]);
            while (true)
            {
                ulong bitmap = 0;
                while (i < addresses.Count && addresses[i] >= next && addresses[i] < next + (ulong)(bitsPerBitmap * wordSize)
                       && (addresses[i] - next) % (ulong)wordSize == 0)
                {
                    bitmap |= 1UL << (int)((addresses[i] - next) / (ulong)wordSize);
                    i++;
                }
                if (bitmap == 0)
                    break;
                words.Add((bitmap << 1) | 1);
                next += (ulong)(bitsPerBitmap * wordSize);
            }
        }
        return words;
    }

    /// <summary>Addresses for DT_RELR: a run, a gap, a second bitmap's worth later, then a far address.</summary>
    private List<ulong> RelrAddressesFrom(ulong b)
    {
        ulong w = (ulong)WordSize;
        return [b, b + w, b + 2 * w, b + 4 * w, b + 70 * w, b + 72 * w, b + 200 * w];
    }

    /// <summary>DT_RELA: a relative, a GLOB_DAT and an R_X86_64_64 with an addend; DT_JMPREL: one JUMP_SLOT.</summary>
    private static (List<TestRelocation> Rela, List<TestRelocation> JmpRel) PlaceRelocations(List<TestSymbol> symbols, ulong dataAddress)
    {
        int Sym(string name) => symbols.FindIndex(s => s.Name == name);
        var rela = new List<TestRelocation>
        {
            new(dataAddress + 0x00, R_X86_64_RELATIVE, 0, 0x1234),
            new(dataAddress + 0x08, R_X86_64_GLOB_DAT, (uint)Sym("ext_data"), 0),
            new(dataAddress + 0x10, R_X86_64_64, (uint)Sym("alpha"), 4),
        };
        var jmprel = new List<TestRelocation> { new(dataAddress + 0x18, R_X86_64_JUMP_SLOT, (uint)Sym("ext_func"), 0) };
        return (rela, jmprel);
    }

    private void WriteRelocations(BuiltElf image, ElfLayout layout, List<TestRelocation> rela, List<TestRelocation> jmprel, List<ulong> relrWords)
    {
        for (int i = 0; i < rela.Count; i++)
            WriteRela(image, layout.RelaOffset + i * layout.RelaEntrySize, rela[i]);
        WriteRela(image, layout.JmprelOffset, jmprel[0]);
        for (int i = 0; i < relrWords.Count; i++)
            image.WriteWord(layout.RelrOffset + i * WordSize, relrWords[i]);
    }

    private void WriteRela(BuiltElf image, int o, TestRelocation r)
    {
        int w = WordSize;
        ulong info = Is64 ? ((ulong)r.SymbolIndex << 32) | r.Type : (r.SymbolIndex << 8) | (r.Type & 0xff);
        image.WriteWord(o, r.Offset);
        image.WriteWord(o + w, info);
        image.WriteWord(o + 2 * w, (ulong)r.Addend);
    }
}
