using System.Buffers.Binary;
using Loader.Elf;
using Loader.Tests.Linking;

namespace Loader.Tests.Hostile;

/// <summary>
/// The one-off generator of the <c>class&lt;N&gt;-*.so</c> files in tests/fuzz-regressions: one input per bug class of
/// the hostile-input review, each basic.so with one thing changed (the same edits as <see cref="HostileLoadTests"/>).
/// The files are committed; this regenerates them: <c>dotnet Loader.Tests.dll write-fuzz-regressions DIR</c>.
/// </summary>
internal static class RegressionInputs
{
    public const string Scenario = "write-fuzz-regressions";

    private const long DT_NEEDED = 1, DT_HASH = 4, DT_SYMTAB = 6, DT_FINI = 13, DT_SONAME = 14, DT_DEBUG = 21, DT_INIT_ARRAY = 25,
        DT_FINI_ARRAY = 26, DT_GNU_HASH = 0x6ffffef5;

    /// <summary>Every input by file name.</summary>
    public static IReadOnlyList<(string Name, Func<byte[]> Make)> All =>
    [
        ("class1-empty-writable-load-relocation.so", EmptyWritableLoadRelocation),
        ("class1-empty-writable-load-init-array.so", EmptyWritableLoadInitArray),
        ("class2-symbolic-relocation-without-symtab.so", WithoutSymtab),
        ("class2-empty-needed.so", EmptyNeeded),
        ("class3-needs-its-own-soname.so", NeedsItself),
        ("class4-fini-not-code.so", FiniNotCode),
        ("class4-fini-array-past-the-image.so", FiniArrayPastTheImage),
        ("mut-empty-soname.so", EmptySoname),
        ("fuzz-map-unreadable-first-load.so", UnreadableFirstLoad),
        ("fuzz-load-symbol-zero-without-symtab.so", SymbolZeroWithoutSymtab),
    ];

    public static int Write(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var (name, make) in All)
        {
            File.WriteAllBytes(Path.Combine(directory, name), make());
            Console.WriteLine(name);
        }
        return 0;
    }

    private static byte[] EmptyWritableLoadRelocation()
    {
        var (bytes, address) = BasicVariants.WithEmptyWritableLoad();
        using var elf = ElfFile.Parse(bytes.ToArray(), "x");
        var rela = elf.RelocationTables.First(t => t.Name == "DT_RELA");
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)ElfPatch.FileOffset(elf, rela.Address)), address); // r_offset of the first
        return bytes;
    }

    private static byte[] EmptyWritableLoadInitArray()
    {
        var (bytes, address) = BasicVariants.WithEmptyWritableLoad();
        using var elf = ElfFile.Parse(bytes.ToArray(), "x");
        ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag == DT_INIT_ARRAY ? (tag, address) : (tag, value));
        return bytes;
    }

    private static byte[] WithoutSymtab()
    {
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag is DT_SYMTAB or DT_GNU_HASH or DT_HASH ? (DT_DEBUG, 0) : (tag, value));
        return bytes;
    }

    /// <summary>The first PT_LOAD's p_flags 0 (what the map fuzzer found, in a fuzzed libz-like seed): a segment
    /// mapped PROT_NONE, ahead of <c>.eh_frame_hdr</c>'s read-only one.</summary>
    private static byte[] UnreadableFirstLoad()
    {
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
        {
            int first = elf.ProgramHeaders.ToList().FindIndex(p => p.Type == SegmentType.Load);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)elf.Header.ProgramHeaderOffset + first * ProgramHeader.Size64 + 4), 0);
        }
        return bytes;
    }

    /// <summary>No DT_SYMTAB (nor hash tables), and every relocation's symbol index 0: a symbolic relocation with S = 0
    /// in a module that has no symbols (what the load fuzzer found).</summary>
    private static byte[] SymbolZeroWithoutSymtab()
    {
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
        {
            foreach (var table in elf.RelocationTables)
                for (int i = 0; i < table.Count; i++)
                {
                    var info = bytes.AsSpan((int)ElfPatch.FileOffset(elf, table.Address) + i * table.EntrySize + 8, 8);
                    BinaryPrimitives.WriteUInt64LittleEndian(info, BinaryPrimitives.ReadUInt64LittleEndian(info) & uint.MaxValue);
                }
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag is DT_SYMTAB or DT_GNU_HASH or DT_HASH ? (DT_DEBUG, 0) : (tag, value));
        }
        return bytes;
    }

    private static byte[] EmptyNeeded()
    {
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag == DT_NEEDED ? (tag, 0) : (tag, value)); // offset 0: the leading NUL
        return bytes;
    }

    private static byte[] NeedsItself()
    {
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
        {
            ulong soname = elf.Dynamic!.Get(DynamicTag.SoName) ?? throw new InvalidOperationException("basic.so has no DT_SONAME");
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag == DT_NEEDED ? (tag, soname) : (tag, value));
        }
        return bytes;
    }

    private static byte[] FiniNotCode()
    {
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
        {
            ulong data = elf.ProgramHeaders.Last(p => p.Type == SegmentType.Load).VirtualAddress; // writable data, not code
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag == DT_FINI ? (tag, data) : (tag, value));
        }
        return bytes;
    }

    private static byte[] FiniArrayPastTheImage()
    {
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
        {
            ulong end = elf.ProgramHeaders.Where(p => p.Type == SegmentType.Load).Max(p => p.VirtualAddress + p.MemorySize);
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag == DT_FINI_ARRAY ? (tag, end + 0x1000) : (tag, value));
        }
        return bytes;
    }

    /// <summary>Found by <see cref="StructuredMutationTests"/>: DT_SONAME names the empty string (offset 0 of DT_STRTAB).</summary>
    private static byte[] EmptySoname()
    {
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag == DT_SONAME ? (tag, 0) : (tag, value));
        return bytes;
    }
}
