using System.Globalization;
using Loader.Elf;
using Loader.Tests.Oracles;

namespace Loader.Tests.Elf;

/// <summary>
/// Deterministic robustness: every byte of the ELF header, the program headers, the dynamic section and the
/// heads of the tables it points to is set to 0x00, 0xff and 0x80 in turn, and every 4- and 8-byte field to
/// boundary values; each mutant is parsed and read through (<see cref="ElfReadAll.ReadEverything"/>). The only
/// exception allowed is a <see cref="LoaderException"/> (an <see cref="ElfFormatException"/> must name the file
/// and a field); anything else, or a hang, fails the test with the mutation described.
/// </summary>
public class MutationTests
{
    private static readonly byte[] ByteValues = [0x00, 0xff, 0x80];

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void BuilderImage_SurvivesEveryMutation(bool is64, bool bigEndian)
    {
        var image = new ElfImageBuilder { Is64 = is64, BigEndian = bigEndian }.Build();
        Run($"builder-{(is64 ? 64 : 32)}{(bigEndian ? "be" : "le")}.so", image.Bytes);
    }

    [Fact]
    public void BuilderImageWithoutSections_SurvivesEveryMutation()
    {
        var image = new ElfImageBuilder { SectionHeaders = false, Hashes = HashStyle.Gnu }.Build();
        Run("builder-nosections.so", image.Bytes);
    }

    [Fact]
    public void SystemLibrary_SurvivesEveryMutation()
    {
        var (name, bytes) = SystemLibraries.Zlib();
        Run(name, bytes);
    }

    private static void Run(string name, byte[] original)
    {
        var elf = ElfFile.Parse(original, name);
        ElfReadAll.ReadEverything(elf);
        var regions = Regions(elf, original.Length);
        var fields = Fields(elf, regions);
        var work = (byte[])original.Clone();
        string current = "(starting)";
        int mutants = 0;

        var failures = ElfReadAll.WithTimeout(() =>
        {
            var found = new Dictionary<string, string>(); // first mutation per distinct failure
            void Try(string description)
            {
                current = description;
                mutants++;
                var e = ElfReadAll.ParseAndReadAll(work, name);
                if (!ElfReadAll.IsCleanOutcome(e, name, out string why))
                {
                    string key = why.Split('\n').Take(3).Aggregate((a, b) => a + b);
                    found.TryAdd(key, $"{name}: {description} -> {why}");
                }
            }

            foreach (var r in regions)
            {
                for (int o = r.Start; o < r.End; o++)
                {
                    byte saved = work[o];
                    foreach (byte v in ByteValues)
                    {
                        if (v == saved)
                            continue;
                        work[o] = v;
                        Try($"byte {r.Describe(o)} (file offset 0x{o:x}) = 0x{v:x2}");
                    }
                    work[o] = saved;
                }
            }

            foreach (var f in fields)
            {
                var saved = work.AsSpan(f.Offset, f.Size).ToArray();
                foreach (ulong v in Values(f, original.Length, elf.Encoding))
                {
                    Write(work, f.Offset, f.Size, v, elf.Encoding.IsBigEndian);
                    Try($"field {f.Label} (file offset 0x{f.Offset:x}, {f.Size} bytes) = 0x{v:x}");
                }
                saved.CopyTo(work, f.Offset);
            }
            return found;
        }, seconds: 60, () => $"{name}: {current}");

        Assert.True(mutants > 500, $"only {mutants} mutants");
        Assert.True(failures.Count == 0,
            $"{failures.Count} distinct non-LoaderException outcomes in {mutants} mutants of {name}:\n\n" + string.Join("\n\n", failures.Values.Take(25)));
    }

    // ---------------- What to mutate ----------------

    private sealed record Region(string Name, int Start, int End, int EntrySize, Func<int, string>? Entry = null)
    {
        public string Describe(int offset)
        {
            int rel = offset - Start;
            return EntrySize > 0
                ? $"{Name}[{rel / EntrySize}]{Entry?.Invoke(rel / EntrySize) ?? ""}+0x{rel % EntrySize:x}"
                : $"{Name}+0x{rel:x}";
        }
    }

    private sealed record Field(string Label, int Offset, int Size, ulong Original);

    /// <summary>The ELF header, the program headers, the dynamic section up to DT_NULL, and the first bytes of each table it names.</summary>
    private static List<Region> Regions(ElfFile elf, int fileLength)
    {
        var enc = elf.Encoding;
        int w = enc.WordSize;
        var regions = new List<Region> { new("ehdr", 0, enc.Is64 ? 64 : 52, 0) };
        int phentsize = ProgramHeader.SizeFor(elf.Header.Class);
        int phoff = (int)elf.Header.ProgramHeaderOffset;
        regions.Add(new("phdr", phoff, phoff + elf.ProgramHeaderCount * phentsize, phentsize,
            i => $"({elf.ProgramHeaders[i].Type})"));
        if (elf.SectionCount > 0)
        {
            int shentsize = SectionHeader.SizeFor(elf.Header.Class);
            int shoff = (int)elf.Header.SectionHeaderOffset;
            regions.Add(new("shdr", shoff, shoff + shentsize, shentsize, _ => "(section 0)"));
            int strndx = shoff + elf.SectionNameTableIndex * shentsize;
            regions.Add(new("shdr", strndx, strndx + shentsize, shentsize, _ => $"(e_shstrndx {elf.SectionNameTableIndex})"));
        }
        var dynamicPh = elf.ProgramHeaders.FirstOrDefault(p => p.Type == SegmentType.Dynamic);
        if (elf.Dynamic is { } dyn)
        {
            int start = (int)dynamicPh.Offset;
            regions.Add(new("dyn", start, start + dyn.Entries.Count * 2 * w, 2 * w, i => $"({Tag(dyn.Entries[i].Tag)})"));
            void Table(string name, DynamicTag tag, int length)
            {
                if (dyn.TryGet(tag, out ulong address) && elf.View.TryGetFileOffset(address, out ulong offset))
                    regions.Add(new(name, (int)offset, (int)Math.Min(offset + (ulong)length, (ulong)fileLength), 0));
            }
            Table("DT_GNU_HASH", DynamicTag.GnuHash, elf.GnuHash is { } g ? 16 + (int)Math.Min(g.BloomSize, 4) * w + (int)Math.Min(g.BucketCount, 8) * 4 + 16 : 48);
            Table("DT_HASH", DynamicTag.Hash, 40);
            Table("DT_VERDEF", DynamicTag.VerDef, 64);
            Table("DT_VERNEED", DynamicTag.VerNeed, 64);
            Table("DT_VERSYM", DynamicTag.VerSym, 8);
            Table("DT_RELA", DynamicTag.Rela, 6 * w);
            Table("DT_JMPREL", DynamicTag.JmpRel, 3 * w);
            Table("DT_RELR", DynamicTag.Relr, 4 * w);
            Table("DT_SYMTAB", DynamicTag.SymTab, 3 * (enc.Is64 ? 24 : 16));
        }
        foreach (var ph in elf.ProgramHeaders.Where(p => p.Type == SegmentType.Note))
            regions.Add(new("PT_NOTE", (int)ph.Offset, (int)Math.Min(ph.Offset + 32, (ulong)fileLength), 0));
        return regions;
    }

    /// <summary>The aligned 2-, 4- and word-sized fields of the header, the program headers and the dynamic entries, plus each table's header words.</summary>
    private static List<Field> Fields(ElfFile elf, List<Region> regions)
    {
        var enc = elf.Encoding;
        var bytes = elf.Bytes;
        int w = enc.WordSize;
        var fields = new List<Field>();
        void Add(string label, int offset, int size) =>
            fields.Add(new(label, offset, size, size == 2 ? enc.U16(bytes.Span, offset) : size == 4 ? enc.U32(bytes.Span, offset) : enc.U64(bytes.Span, offset)));

        int after = 24 + 3 * w;
        Add("e_entry", 24, w); Add("e_phoff", 24 + w, w); Add("e_shoff", 24 + 2 * w, w);
        Add("e_phentsize", after + 6, 2); Add("e_phnum", after + 8, 2); Add("e_shentsize", after + 10, 2);
        Add("e_shnum", after + 12, 2); Add("e_shstrndx", after + 14, 2);
        foreach (var r in regions)
        {
            if (r.Name is "phdr" or "shdr")
            {
                // Every 4-byte word of the entry as a field; 64-bit entries also every 8-byte word from offset 8 (phdr) / 8 (shdr).
                for (int o = r.Start; o + 4 <= r.End; o += 4)
                    Add($"{r.Describe(o)}/u32", o, 4);
                if (enc.Is64)
                    for (int o = r.Start + 8; o + 8 <= r.End; o += 8)
                        Add($"{r.Describe(o)}/u64", o, 8);
            }
            else if (r.Name == "dyn")
            {
                for (int o = r.Start; o + 2 * w <= r.End; o += 2 * w)
                {
                    Add($"{r.Describe(o)} d_tag", o, w);
                    Add($"{r.Describe(o)} d_val", o + w, w);
                }
            }
            else if (r.Name.StartsWith("DT_", StringComparison.Ordinal))
            {
                for (int o = r.Start; o + 4 <= r.End && o < r.Start + 32; o += 4)
                    Add($"{r.Describe(o)}/u32", o, 4);
            }
        }
        return fields;
    }

    private static IEnumerable<ulong> Values(Field f, int fileLength, ElfEncoding enc)
    {
        ulong max = f.Size switch { 2 => 0xffff, 4 => 0xffff_ffff, _ => ulong.MaxValue };
        var values = new SortedSet<ulong> { 0, 1, 2, 3, 7, max, max >> 1, (max >> 1) + 1, max - 7,
            (ulong)fileLength, (ulong)fileLength - 1, (ulong)fileLength + 1,
            f.Original + 1, f.Original - 1, f.Original + (ulong)enc.WordSize, f.Original * 2, f.Original ^ 0x8000 };
        if (f.Size >= 4)
        {
            values.Add(0xffff);
            values.Add(0x1_0000);
            values.Add(0x7fff_fff8);
        }
        if (f.Size == 8)
        {
            values.Add(0x1_0000_0000);
            values.Add(0x1_0000_0001);
            values.Add(f.Original | 0x1_0000_0000);
            values.Add(f.Original + 0x8000_0000_0000_0000);
        }
        if (f.Label.EndsWith("d_tag", StringComparison.Ordinal))
        {
            // Turn the entry into each tag the reader follows, keeping its value.
            foreach (DynamicTag t in Enum.GetValues<DynamicTag>())
                values.Add((ulong)(long)t);
        }
        foreach (ulong v in values)
            if (v <= max && v != f.Original)
                yield return v;
    }

    private static void Write(byte[] bytes, int offset, int size, ulong value, bool bigEndian)
    {
        for (int i = 0; i < size; i++)
        {
            int shift = 8 * (bigEndian ? size - 1 - i : i);
            bytes[offset + i] = (byte)(value >> shift);
        }
    }

    private static string Tag(DynamicTag tag) =>
        Enum.IsDefined(tag) ? "DT_" + tag.ToString().ToUpperInvariant() : "0x" + ((long)tag).ToString("x", CultureInfo.InvariantCulture);
}
