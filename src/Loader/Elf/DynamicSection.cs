namespace Loader.Elf;

/// <summary>
/// The dynamic section: its entries up to and including the first <c>DT_NULL</c>, and typed access to the
/// tags a loader follows. When a tag appears twice, the last one wins, as in glibc's <c>elf_get_dynamic_info</c>.
/// </summary>
public sealed class DynamicSection
{
    private readonly DynamicEntry[] _entries;
    private readonly Dictionary<DynamicTag, ulong> _last = [];

    private DynamicSection(DynamicEntry[] entries, ulong address)
    {
        _entries = entries;
        Address = address;
        foreach (var e in entries)
            _last[e.Tag] = e.Value;
    }

    /// <summary>The entries, in file order, up to and including the first DT_NULL (if there is one).</summary>
    public IReadOnlyList<DynamicEntry> Entries => _entries;

    /// <summary>The virtual address of the dynamic section.</summary>
    public ulong Address { get; }

    /// <summary>The value of the last entry with <paramref name="tag"/>.</summary>
    public bool TryGet(DynamicTag tag, out ulong value) => _last.TryGetValue(tag, out value);

    /// <summary>The value of the last entry with <paramref name="tag"/>, or null.</summary>
    public ulong? Get(DynamicTag tag) => _last.TryGetValue(tag, out var v) ? v : null;

    /// <summary>True when any entry has <paramref name="tag"/>.</summary>
    public bool Has(DynamicTag tag) => _last.ContainsKey(tag);

    /// <summary>The values of every entry with <paramref name="tag"/>, in order (DT_NEEDED appears many times).</summary>
    public IEnumerable<ulong> GetAll(DynamicTag tag)
    {
        foreach (var e in _entries)
            if (e.Tag == tag)
                yield return e.Value;
    }

    /// <summary>DT_FLAGS, or none.</summary>
    public DynamicFlags Flags => (DynamicFlags)(Get(DynamicTag.Flags) ?? 0);

    /// <summary>DT_FLAGS_1, or none.</summary>
    public DynamicFlags1 Flags1 => (DynamicFlags1)(Get(DynamicTag.Flags1) ?? 0);

    /// <summary>Reads <c>Elf_Dyn</c> entries from <paramref name="bytes"/> until DT_NULL or the end.</summary>
    internal static DynamicSection Read(ReadOnlySpan<byte> bytes, ElfEncoding enc, ulong address, ulong fileOffset, string fileName)
    {
        int entrySize = 2 * enc.WordSize;
        if (bytes.Length % entrySize != 0)
            ThrowHelper.Format(fileName, "PT_DYNAMIC p_filesz", fileOffset,
                $"size 0x{bytes.Length:x} is not a multiple of the {entrySize}-byte Elf_Dyn entry");
        var entries = new List<DynamicEntry>(bytes.Length / entrySize);
        for (int off = 0; off + entrySize <= bytes.Length; off += entrySize)
        {
            var tag = (DynamicTag)enc.SignedWord(bytes, off);
            entries.Add(new DynamicEntry(tag, enc.Word(bytes, off + enc.WordSize)));
            if (tag == DynamicTag.Null)
                break;
        }
        return new DynamicSection([.. entries], address);
    }
}
