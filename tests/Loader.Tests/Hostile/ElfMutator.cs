using System.Buffers.Binary;
using System.Globalization;
using Loader.Elf;
using Loader.Tests.Linking;

namespace Loader.Tests.Hostile;

/// <summary>One mutated input: a file name that says what was changed (safe on any file system), and its bytes.</summary>
internal sealed record Mutant(string Name, byte[] Bytes);

/// <summary>What a field holds, which decides the boundary values it is given.</summary>
internal enum FieldKind
{
    Address,
    FileOffset,
    Size,
    Count,
    StringOffset,
    SymbolIndex,
    SegmentType,
    SegmentFlags,
    DynamicTag,
    RelocationType,
    Other,
}

/// <summary>One field of the input, found by parsing it: where it lies in the file, how wide it is, what it holds.</summary>
internal sealed record MutableField(string Name, int Offset, int Width, FieldKind Kind);

/// <summary>
/// A structure-aware mutator: it parses a real shared object with <see cref="ElfFile.Parse"/> and lists the fields a
/// loader trusts — the ELF header, every program header, every dynamic entry, a few symbols and a few entries of
/// every relocation table — then makes mutants by setting one or two of them to a boundary value chosen for what the
/// field holds: 0, all ones, huge, off by one, misaligned, another segment's address or offset (overlap), the end of
/// the file or of the image and one past it, anywhere in the file or the image. Deterministic for a given
/// <see cref="Random"/> seed.
/// </summary>
internal sealed class ElfMutator
{
    private const int EhdrSize = 64, SymSize = 24, RelaSize = 24;

    private readonly string _source;
    private readonly byte[] _original;
    private readonly List<MutableField> _header = [], _programHeaders = [], _dynamic = [], _symbols = [], _relocations = [];
    private readonly List<ProgramHeader> _loads = [];
    private readonly ulong _imageEnd;
    private readonly int _symbolCount;

    /// <summary>Parses <paramref name="bytes"/> (a valid ELF64 x86_64 shared object) and lists its fields.</summary>
    public ElfMutator(string source, byte[] bytes)
    {
        _source = source;
        _original = bytes;
        using var elf = ElfFile.Parse(bytes.ToArray(), source);
        AddHeaderFields();
        AddProgramHeaderFields(elf);
        AddDynamicFields(elf);
        AddSymbolFields(elf);
        AddRelocationFields(elf);
        _loads.AddRange(elf.ProgramHeaders.Where(p => p.Type == Loader.Elf.SegmentType.Load));
        _imageEnd = _loads.Max(p => p.VirtualAddress + p.MemorySize);
        _symbolCount = elf.DynamicSymbols?.Count ?? 0;
    }

    /// <summary>Every field this mutator may change, by structure.</summary>
    public IReadOnlyList<MutableField> Fields => [.. _header, .. _programHeaders, .. _dynamic, .. _symbols, .. _relocations];

    /// <summary>
    /// <paramref name="count"/> mutants, each with one field changed (or two, one time in three), each different
    /// from the original. Structures are drawn with weights (program headers and dynamic entries most often).
    /// </summary>
    public IEnumerable<Mutant> Generate(Random random, int count)
    {
        var groups = new (List<MutableField> Fields, int Weight)[]
        {
            (_header, 15), (_programHeaders, 30), (_dynamic, 30), (_symbols, 10), (_relocations, 15),
        };
        groups = groups.Where(g => g.Fields.Count > 0).ToArray();
        int total = groups.Sum(g => g.Weight);
        for (int made = 0; made < count;)
        {
            byte[] bytes = (byte[])_original.Clone();
            var names = new List<string>();
            int fields = random.Next(3) == 0 ? 2 : 1;
            for (int i = 0; i < fields; i++)
            {
                int pick = random.Next(total);
                var group = groups.First(g => (pick -= g.Weight) < 0).Fields;
                var field = group[random.Next(group.Count)];
                var (value, label) = Choose(field, Read(bytes, field), random);
                Write(bytes, field, value);
                names.Add($"{field.Name}={label}");
            }
            if (bytes.AsSpan().SequenceEqual(_original))
                continue;
            made++;
            yield return new Mutant($"{_source}-{string.Join(',', names)}.so", bytes);
        }
    }

    private void AddHeaderFields()
    {
        _header.AddRange(
        [
            new("ei_class", 4, 1, FieldKind.Other), new("ei_data", 5, 1, FieldKind.Other), new("ei_version", 6, 1, FieldKind.Other),
            new("ei_osabi", 7, 1, FieldKind.Other), new("e_type", 16, 2, FieldKind.Other), new("e_machine", 18, 2, FieldKind.Other),
            new("e_version", 20, 4, FieldKind.Other), new("e_entry", 24, 8, FieldKind.Address), new("e_phoff", 32, 8, FieldKind.FileOffset),
            new("e_shoff", 40, 8, FieldKind.FileOffset), new("e_flags", 48, 4, FieldKind.Other), new("e_ehsize", 52, 2, FieldKind.Size),
            new("e_phentsize", 54, 2, FieldKind.Size), new("e_phnum", 56, 2, FieldKind.Count), new("e_shentsize", 58, 2, FieldKind.Size),
            new("e_shnum", 60, 2, FieldKind.Count), new("e_shstrndx", 62, 2, FieldKind.Count),
        ]);
    }

    private void AddProgramHeaderFields(ElfFile elf)
    {
        for (int i = 0; i < elf.ProgramHeaderCount; i++)
        {
            int at = (int)elf.Header.ProgramHeaderOffset + i * ProgramHeader.Size64;
            string p = $"ph{i}";
            _programHeaders.AddRange(
            [
                new($"{p}.p_type", at, 4, FieldKind.SegmentType), new($"{p}.p_flags", at + 4, 4, FieldKind.SegmentFlags),
                new($"{p}.p_offset", at + 8, 8, FieldKind.FileOffset), new($"{p}.p_vaddr", at + 16, 8, FieldKind.Address),
                new($"{p}.p_filesz", at + 32, 8, FieldKind.Size), new($"{p}.p_memsz", at + 40, 8, FieldKind.Size),
                new($"{p}.p_align", at + 48, 8, FieldKind.Size),
            ]);
        }
    }

    private void AddDynamicFields(ElfFile elf)
    {
        var dynamic = elf.ProgramHeaders.FirstOrDefault(p => p.Type == Loader.Elf.SegmentType.Dynamic);
        if (dynamic.Type != Loader.Elf.SegmentType.Dynamic)
            return;
        int index = 0;
        for (ulong at = dynamic.Offset; at + 16 <= dynamic.Offset + dynamic.FileSize; at += 16, index++)
        {
            long tag = BinaryPrimitives.ReadInt64LittleEndian(_original.AsSpan((int)at));
            string name = TagName(tag);
            _dynamic.Add(new($"dyn{index}.{name}.d_tag", (int)at, 8, FieldKind.DynamicTag));
            if (tag == 0)
                break; // DT_NULL ends the table; its tag may become something else, its value is left alone
            _dynamic.Add(new($"dyn{index}.{name}.d_val", (int)at + 8, 8, ValueKind(tag)));
        }
    }

    private void AddSymbolFields(ElfFile elf)
    {
        if (elf.DynamicSymbols is not { } symbols || symbols.Count == 0)
            return;
        ulong table = ElfPatch.FileOffset(elf, symbols.Address);
        // The first real symbols, the last, and a few in between: enough variety, not thousands of fields.
        var indexes = new SortedSet<int> { 1, 2, 3, symbols.Count - 1, symbols.Count / 2, symbols.Count / 3 };
        foreach (int i in indexes.Where(i => i > 0 && i < symbols.Count))
        {
            int at = (int)table + i * SymSize;
            string s = $"sym{i}";
            _symbols.AddRange(
            [
                new($"{s}.st_name", at, 4, FieldKind.StringOffset), new($"{s}.st_info", at + 4, 1, FieldKind.Other),
                new($"{s}.st_other", at + 5, 1, FieldKind.Other), new($"{s}.st_shndx", at + 6, 2, FieldKind.Count),
                new($"{s}.st_value", at + 8, 8, FieldKind.Address), new($"{s}.st_size", at + 16, 8, FieldKind.Size),
            ]);
        }
    }

    private void AddRelocationFields(ElfFile elf)
    {
        foreach (var table in elf.RelocationTables)
        {
            if (table.Format != RelocationFormat.Rela || table.Count == 0)
                continue;
            ulong start = ElfPatch.FileOffset(elf, table.Address);
            var indexes = new SortedSet<int> { 0, 1, table.Count - 1, table.Count / 2 };
            foreach (int i in indexes.Where(i => i < table.Count))
            {
                int at = (int)start + i * RelaSize;
                string r = $"{table.Name.Replace("DT_", "", StringComparison.Ordinal).ToLowerInvariant()}{i}";
                _relocations.AddRange(
                [
                    new($"{r}.r_offset", at, 8, FieldKind.Address), new($"{r}.r_type", at + 8, 4, FieldKind.RelocationType),
                    new($"{r}.r_sym", at + 12, 4, FieldKind.SymbolIndex), new($"{r}.r_addend", at + 16, 8, FieldKind.Address),
                ]);
            }
        }
        if (elf.Relr is { } relr && relr.EntryCount > 0)
        {
            ulong start = ElfPatch.FileOffset(elf, relr.Address);
            foreach (int i in new SortedSet<int> { 0, 1, relr.EntryCount - 1 }.Where(i => i < relr.EntryCount))
                _relocations.Add(new($"relr{i}", (int)start + i * 8, 8, FieldKind.Address));
        }
    }

    /// <summary>A boundary value for <paramref name="field"/> (never its current value if another is possible),
    /// with a label for the file name.</summary>
    private (ulong Value, string Label) Choose(MutableField field, ulong current, Random random)
    {
        ulong mask = field.Width == 8 ? ulong.MaxValue : (1UL << (field.Width * 8)) - 1;
        ulong fileSize = (ulong)_original.Length;
        var load = _loads[random.Next(_loads.Count)];
        var candidates = new List<(ulong, string)>
        {
            (0, "0"), (mask, "ones"), (current + 1, "plus1"), (current - 1, "minus1"), (mask >> 1, "maxsigned"),
            ((mask >> 1) + 1, "minsigned"), ((ulong)random.NextInt64() & mask, "random"),
        };
        switch (field.Kind)
        {
            case FieldKind.Address:
                candidates.AddRange(
                [
                    (_imageEnd, "image_end"), (_imageEnd - 1, "image_end-1"), (_imageEnd - 8, "image_end-8"), (_imageEnd + 1, "image_end+1"),
                    (_imageEnd + 0x1000, "image_end+page"), (fileSize, "file_end"), (current + 3, "misaligned"),
                    (current + 0x1000, "plus_page"), (load.VirtualAddress, "load_start"), (load.VirtualAddress + load.MemorySize, "load_end"),
                    (load.VirtualAddress + load.FileSize - 4, "load_filesz-4"), (1UL << 47, "2^47"), (0xffff_ffff_ffff_f000, "top_page"),
                    ((ulong)random.NextInt64((long)_imageEnd), "in_image"), ((ulong)random.NextInt64((long)fileSize), "in_file"),
                ]);
                break;
            case FieldKind.FileOffset:
                candidates.AddRange(
                [
                    (fileSize, "file_end"), (fileSize - 1, "file_end-1"), (fileSize + 1, "file_end+1"), (current + 3, "misaligned"),
                    (load.Offset, "load_offset"), (load.Offset + load.FileSize, "load_file_end"), (1UL << 32, "2^32"),
                    ((ulong)random.NextInt64((long)fileSize), "in_file"), (fileSize - 8, "file_end-8"),
                ]);
                break;
            case FieldKind.Size:
                candidates.AddRange(
                [
                    (1, "1"), (current * 2, "double"), (current + 24, "plus24"), (fileSize, "file_size"), (fileSize + 1, "file_size+1"),
                    (_imageEnd, "image_size"), (_imageEnd + 1, "image_size+1"), (1UL << 40, "2^40"), (0x1000, "page"),
                    (load.MemorySize, "other_memsz"), (3, "3"), (7, "7"), (0x200000, "2MiB"), (0x1001, "page+1"),
                ]);
                break;
            case FieldKind.Count:
            case FieldKind.SymbolIndex:
                candidates.AddRange(
                [
                    (1, "1"), ((ulong)_symbolCount, "sym_count"), ((ulong)_symbolCount + 1, "sym_count+1"), (0xffff, "xnum"),
                    (0xfff1, "shn_abs"), (0xfff2, "shn_common"), ((ulong)random.Next(_symbolCount + 2), "any_sym"), (0x7fff_ffff, "int_max"),
                ]);
                break;
            case FieldKind.StringOffset:
                candidates.AddRange([(fileSize, "file_size"), (0x7fff_ffff, "int_max"), ((ulong)random.Next(4096), "any")]);
                break;
            case FieldKind.SegmentType:
                candidates.AddRange(
                [
                    (1, "PT_LOAD"), (2, "PT_DYNAMIC"), (3, "PT_INTERP"), (4, "PT_NOTE"), (6, "PT_PHDR"), (7, "PT_TLS"),
                    (0x6474e550, "PT_GNU_EH_FRAME"), (0x6474e551, "PT_GNU_STACK"), (0x6474e552, "PT_GNU_RELRO"), (0x6474e553, "PT_GNU_PROPERTY"),
                ]);
                break;
            case FieldKind.SegmentFlags:
                candidates.AddRange([(7, "RWX"), (6, "RW"), (5, "RX"), (4, "R"), (2, "W"), (1, "X")]);
                break;
            case FieldKind.DynamicTag:
                foreach (long tag in new long[] { 1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 20, 22, 23, 24, 25, 26, 27, 28, 29, 30, 32, 36, 0x6ffffef5, 0x6ffffff0, 0x6ffffffb, 0x6ffffffe })
                    candidates.Add(((ulong)tag, TagName(tag)));
                break;
            case FieldKind.RelocationType:
                candidates.AddRange([((ulong)random.Next(44), "any_type"), (42, "R_X86_64_REX_GOTPCRELX"), (37, "R_X86_64_IRELATIVE"),
                    (16, "R_X86_64_DTPMOD64"), (18, "R_X86_64_TPOFF64"), (36, "R_X86_64_TLSDESC"), (5, "R_X86_64_COPY"), (2, "R_X86_64_PC32"),
                    (10, "R_X86_64_32"), (1, "R_X86_64_64"), (8, "R_X86_64_RELATIVE"), (44, "unknown44")]);
                break;
            case FieldKind.Other:
                candidates.AddRange([(1, "1"), (2, "2"), (3, "3"), (0x80, "0x80")]);
                break;
        }
        for (int attempt = 0; ; attempt++)
        {
            var (value, label) = candidates[random.Next(candidates.Count)];
            value &= mask;
            if (value != current || attempt > 20)
                return (value, label.Replace('^', 'e'));
        }
    }

    private static ulong Read(byte[] bytes, MutableField f) => f.Width switch
    {
        1 => bytes[f.Offset],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(f.Offset)),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(f.Offset)),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(f.Offset)),
    };

    private static void Write(byte[] bytes, MutableField f, ulong value)
    {
        switch (f.Width)
        {
            case 1: bytes[f.Offset] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(f.Offset), (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(f.Offset), (uint)value); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(f.Offset), value); break;
        }
    }

    private static FieldKind ValueKind(long tag) => tag switch
    {
        1 or 14 or 15 or 29 => FieldKind.StringOffset,                 // NEEDED, SONAME, RPATH, RUNPATH
        2 or 8 or 9 or 10 or 11 or 18 or 19 or 27 or 28 or 33 or 35 or 37 => FieldKind.Size,
        0x6ffffff9 or 0x6ffffffd or 0x6fffffff => FieldKind.Count,     // RELACOUNT, VERDEFNUM, VERNEEDNUM
        20 or 30 or 0x6ffffffb => FieldKind.Other,                     // PLTREL, FLAGS, FLAGS_1
        _ => FieldKind.Address,
    };

    private static string TagName(long tag) =>
        Enum.IsDefined(typeof(DynamicTag), tag) ? "DT_" + ((DynamicTag)tag).ToString().ToUpperInvariant()
        : tag switch
        {
            0x6ffffff0 => "DT_VERSYM",
            0x6ffffff9 => "DT_RELACOUNT",
            0x6ffffffb => "DT_FLAGS_1",
            0x6ffffffc => "DT_VERDEF",
            0x6ffffffd => "DT_VERDEFNUM",
            0x6ffffffe => "DT_VERNEED",
            0x6fffffff => "DT_VERNEEDNUM",
            _ => "0x" + tag.ToString("x", CultureInfo.InvariantCulture),
        };
}
