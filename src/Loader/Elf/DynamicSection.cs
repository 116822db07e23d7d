namespace Loader.Elf;

/// <summary>
/// The dynamic section: its entries up to and including the first <c>DT_NULL</c>, and typed access to the
/// tags a loader follows. When a tag appears twice, the last one wins, as in glibc's <c>elf_get_dynamic_info</c>.
/// </summary>
public sealed class DynamicSection
{
    // The entries stay where they were read (the mapped image, the file's bytes): an image keeps no copy of them, and
    // the mapper's early read (for DF_1_PIE) reads them in its pooled buffer. Only a host library's are a copy, with
    // the pointers glibc made absolute turned back (WithAbsolutePointersMadeRelative).
    // As a TableBytes: the loader asks some sixty tags a load, and a mapped image's ReadOnlyMemory would make each ask
    // a virtual call for its span.
    private readonly TableBytes _bytes;
    private readonly ElfEncoding _enc;
    private readonly int _count;

    private DynamicSection(ReadOnlyMemory<byte> bytes, ElfEncoding enc, int count, ulong address)
    {
        _bytes = bytes;
        _enc = enc;
        _count = count;
        Address = address;
    }

    // Where the last entry with each tag a loader asks for lies (index + 1; 0: none) in the section this thread asked
    // last, made in one pass on its first ask, as glibc's l_info is made once: a load asks some fifty tags of each
    // section in turn (its tables, its relocations, its initializers), and a scan of the entries for each cost a few
    // per cent of a small library's load. Kept per thread, not per section: an image keeps no index (about 80 bytes
    // each, docs/architecture.md, "What a loaded image keeps"). Only for a section in native memory (a mapped image's;
    // a file's and a host library's copy are managed bytes), so that the section the thread holds on to keeps nothing
    // else alive (a file read whole); not for one of more than 255 entries. The slots say where an entry is, not its
    // value: a value is read where it lies each time, as before.
    [ThreadStatic]
    private static DynamicSection? t_indexed;
    [ThreadStatic]
    private static TagSlots t_slots;

    /// <summary>Makes this section's slots this thread's.</summary>
    private void Index(ReadOnlySpan<byte> bytes)
    {
        Span<byte> slots = t_slots;
        slots.Clear();
        for (int i = 0; i < _count; i++)
            if (SlotOf(TagAt(bytes, i)) is var slot and >= 0)
                slots[slot] = (byte)(i + 1);
        t_indexed = this;
    }

    /// <summary>The tags with a slot: the gABI's (0 to 39), DT_ADDRRNG's last sixteen (DT_GNU_HASH and its neighbours)
    /// and the GNU version range (DT_VERSYM to DT_VERNEEDNUM, with DT_FLAGS_1 and DT_RELACOUNT).</summary>
    private static int SlotOf(DynamicTag tag)
    {
        long value = (long)tag;
        if ((ulong)value < GabiSlots)
            return (int)value;
        if ((ulong)(value - AddressRangeTop) < RangeSlots)
            return GabiSlots + (int)(value - AddressRangeTop);
        if ((ulong)(value - VersionRangeTop) < RangeSlots)
            return GabiSlots + RangeSlots + (int)(value - VersionRangeTop);
        return -1;
    }

    private const int GabiSlots = 40;
    private const int RangeSlots = 16;
    private const long AddressRangeTop = 0x6ffffef0;  // DT_GNU_HASH is 0x6ffffef5
    private const long VersionRangeTop = 0x6ffffff0;  // DT_VERSYM

    [System.Runtime.CompilerServices.InlineArray(GabiSlots + 2 * RangeSlots)]
    private struct TagSlots
    {
        private byte _first;
    }

    private int EntrySize => 2 * _enc.WordSize;

    private DynamicTag TagAt(ReadOnlySpan<byte> bytes, int index) => (DynamicTag)_enc.SignedWord(bytes, index * EntrySize);

    private ulong ValueAt(ReadOnlySpan<byte> bytes, int index) => _enc.Word(bytes, index * EntrySize + _enc.WordSize);

    // The last entry with the tag wins, as in glibc's l_info. A dynamic section has a few dozen entries: a scan
    // from the end costs less than building a dictionary on every load.
    private int IndexOfLast(ReadOnlySpan<byte> bytes, DynamicTag tag)
    {
        if (_count <= byte.MaxValue && _bytes.IsNative && SlotOf(tag) is var slot and >= 0)
        {
            if (!ReferenceEquals(t_indexed, this))
                Index(bytes);
            return t_slots[slot] - 1;
        }
        if (_enc.Is64 && !_enc.IsBigEndian && BitConverter.IsLittleEndian)
        {
            // ELF64 little-endian on this machine (every object Loader maps): the entries as words, a tag every other
            // one, without decoding each through the encoding; the loader asks for some thirty tags a load.
            var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(bytes[..(_count * 16)]);
            for (int i = _count - 1; i >= 0; i--)
                if (words[2 * i] == (long)tag)
                    return i;
            return -1;
        }
        for (int i = _count - 1; i >= 0; i--)
            if (TagAt(bytes, i) == tag)
                return i;
        return -1;
    }

    /// <summary>The number of entries, up to and including the first DT_NULL (if there is one).</summary>
    public int Count => _count;

    /// <summary>The entry at <paramref name="index"/>, in file order.</summary>
    public DynamicEntry this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _count);
            var bytes = _bytes.Span;
            return new DynamicEntry(TagAt(bytes, index), ValueAt(bytes, index));
        }
    }

    /// <summary>The entries, in file order, up to and including the first DT_NULL (if there is one); a new array,
    /// decoded when asked for.</summary>
    public IReadOnlyList<DynamicEntry> Entries
    {
        get
        {
            var entries = new DynamicEntry[_count];
            for (int i = 0; i < entries.Length; i++)
                entries[i] = this[i];
            return entries;
        }
    }

    /// <summary>The virtual address of the dynamic section.</summary>
    public ulong Address { get; }

    /// <summary>The value of the last entry with <paramref name="tag"/>.</summary>
    public bool TryGet(DynamicTag tag, out ulong value)
    {
        var bytes = _bytes.Span;
        int i = IndexOfLast(bytes, tag);
        value = i < 0 ? 0 : ValueAt(bytes, i);
        return i >= 0;
    }

    /// <summary>The value of the last entry with <paramref name="tag"/>, or null.</summary>
    public ulong? Get(DynamicTag tag) => TryGet(tag, out var v) ? v : null;

    /// <summary>True when any entry has <paramref name="tag"/>.</summary>
    public bool Has(DynamicTag tag) => IndexOfLast(_bytes.Span, tag) >= 0;

    /// <summary>The values of every entry with <paramref name="tag"/>, in order (DT_NEEDED appears many times).</summary>
    public IEnumerable<ulong> GetAll(DynamicTag tag)
    {
        for (int i = 0; i < _count; i++)
            if (TagAt(_bytes.Span, i) == tag)
                yield return ValueAt(_bytes.Span, i);
    }

    /// <summary>DT_FLAGS, or none.</summary>
    public DynamicFlags Flags => (DynamicFlags)(Get(DynamicTag.Flags) ?? 0);

    /// <summary>DT_FLAGS_1, or none.</summary>
    public DynamicFlags1 Flags1 => (DynamicFlags1)(Get(DynamicTag.Flags1) ?? 0);

    /// <summary>
    /// The d_ptr tags glibc 2.36 rewrites in a loaded object's dynamic section (elf/get-dynamic-info.h,
    /// <c>elf_get_dynamic_info</c>): it adds <c>l_addr</c> to these, in place, when <c>l_addr != 0</c> and the
    /// <c>PT_DYNAMIC</c> segment is writable (<c>dl_relocate_ld</c>: not when <c>l_ld_readonly</c>, as for the vDSO,
    /// nor on targets that define <c>DL_RO_DYN_SECTION</c>, MIPS and RISC-V). DT_RELA only when non-zero (it may be 0
    /// beside DT_RELR). DT_REL is not rewritten on x86_64 (<c>ELF_MACHINE_NO_REL</c>); DT_VERDEF, DT_VERNEED, DT_INIT,
    /// DT_FINI and the init/fini arrays never are: glibc adds <c>l_addr</c> to those each time it uses them.
    /// </summary>
    internal static ReadOnlySpan<DynamicTag> TagsGlibcMakesAbsolute =>
    [
        DynamicTag.Hash, DynamicTag.PltGot, DynamicTag.StrTab, DynamicTag.SymTab, DynamicTag.Relr, DynamicTag.JmpRel,
        DynamicTag.VerSym, DynamicTag.GnuHash, DynamicTag.Rela,
    ];

    /// <summary>
    /// A copy in which each entry of <see cref="TagsGlibcMakesAbsolute"/> whose value is at or above
    /// <paramref name="bias"/> is turned back into a virtual address (value − bias): the dynamic section of a library
    /// the host's loader has relocated, read in place.
    /// </summary>
    /// <remarks>
    /// "≥ bias" tells a rewritten value from an untouched one without knowing what glibc decided (a read-only
    /// <c>PT_DYNAMIC</c>, as the vDSO's, is left alone; so is everything when another loader did the work). An
    /// untouched d_ptr is a virtual address of the module, in <c>[0, span)</c> where span is the end of its highest
    /// <c>PT_LOAD</c>, a few MiB; a rewritten one is that plus the bias. A shared object or PIE is placed by mmap far
    /// above its own span (near 0x7f.. or 0x55.., and never below <c>vm.mmap_min_addr</c>), so the two ranges cannot
    /// meet. A non-PIE executable (or any object placed at its link address) has bias 0: then value − 0 = value, and
    /// nothing changes, which is right because glibc skips the rewrite when <c>l_addr == 0</c>.
    /// </remarks>
    internal DynamicSection WithAbsolutePointersMadeRelative(ulong bias)
    {
        byte[] copy = _bytes.Span[..(_count * EntrySize)].ToArray();
        var tags = TagsGlibcMakesAbsolute;
        for (int i = 0; i < _count; i++)
        {
            ulong value = ValueAt(copy, i);
            if (value >= bias && tags.Contains(TagAt(copy, i)))
                _enc.WriteWord(copy, i * EntrySize + _enc.WordSize, value - bias);
        }
        return new DynamicSection(copy, _enc, _count, Address);
    }

    /// <summary>Reads <c>Elf_Dyn</c> entries from <paramref name="bytes"/> until DT_NULL or the end, in place: the
    /// section reads them from <paramref name="bytes"/> for as long as it is used.</summary>
    internal static DynamicSection Read(ReadOnlyMemory<byte> bytes, ElfEncoding enc, ulong address, ulong fileOffset, string fileName)
    {
        int entrySize = 2 * enc.WordSize;
        if (bytes.Length % entrySize != 0)
            ThrowHelper.Format(fileName, "PT_DYNAMIC p_filesz", fileOffset,
                $"size 0x{bytes.Length:x} is not a multiple of the {entrySize}-byte Elf_Dyn entry");
        var span = bytes.Span;
        int count = 0;
        for (int off = 0; off + entrySize <= span.Length; off += entrySize)
        {
            count++;
            if ((DynamicTag)enc.SignedWord(span, off) == DynamicTag.Null)
                break;
        }
        return new DynamicSection(bytes, enc, count, address);
    }
}
