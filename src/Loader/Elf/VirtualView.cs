namespace Loader.Elf;

/// <summary>
/// Maps virtual addresses to bytes: the one translation every dynamic-table reader goes through, so the
/// same readers work on a file on disk (through its <c>PT_LOAD</c>s), on our own mapped image, and on a
/// library the host already loaded (DESIGN.md, "One reader, three views").
/// </summary>
public sealed class VirtualView
{
    // What lists the regions: an array of them (a file, a host library) or an image that lists its own (a mapped
    // image: from its plan), so the view keeps no array then (an image keeps its view for as long as it is loaded:
    // docs/architecture.md, "What a loaded image keeps").
    private readonly IViewRegions _source;

    private VirtualView(string fileName, Region[] regions, ulong[]? fileOffsets = null)
        : this(fileName, new RegionArray(regions, fileOffsets))
    {
    }

    private VirtualView(string fileName, IViewRegions source)
    {
        FileName = fileName;
        _source = source;
    }

    /// <summary>Memory laid out at the virtual addresses <paramref name="source"/> lists, in address order, each region's
    /// "file offset" its address (as <see cref="FromRegions(string, ReadOnlySpan{ValueTuple{ulong, ReadOnlyMemory{byte}}})"/>).</summary>
    internal static VirtualView FromSource(string fileName, IViewRegions source) => new(fileName, source);

    private int RegionCount => _source.ViewRegionCount;

    /// <summary>The file or image name used in error messages.</summary>
    public string FileName { get; }

    /// <summary>A file on disk: each <c>PT_LOAD</c>'s file-backed part <c>[p_vaddr, p_vaddr + p_filesz)</c> reads from <c>p_offset</c>.</summary>
    public static VirtualView FromFile(string fileName, ReadOnlyMemory<byte> file, IReadOnlyList<ProgramHeader> programHeaders)
    {
        var regions = new List<Region>();
        var offsets = new List<ulong>();
        for (int i = 0; i < programHeaders.Count; i++)
        {
            var ph = programHeaders[i];
            if (ph.Type != SegmentType.Load || ph.FileSize == 0)
                continue;
            if (ThrowHelper.OutOfRange(ph.Offset, ph.FileSize, (ulong)file.Length))
                ThrowHelper.Format(fileName, $"PT_LOAD[{i}] p_offset", ph.Offset,
                    $"file range of 0x{ph.FileSize:x} bytes runs past the end of the {file.Length}-byte file");
            regions.Add(new Region(ph.VirtualAddress, file.Slice((int)ph.Offset, (int)ph.FileSize)));
            offsets.Add(ph.Offset);
        }
        return new VirtualView(fileName, [.. regions], [.. offsets]);
    }

    /// <summary>A mapped image whose first byte is virtual address <paramref name="startAddress"/>.</summary>
    public static VirtualView FromImage(string fileName, ReadOnlyMemory<byte> image, ulong startAddress = 0) =>
        new(fileName, [new Region(startAddress, image)]);

    /// <summary>
    /// Memory laid out at several virtual addresses (a library the host process loaded: one region per readable
    /// <c>PT_LOAD</c>, <c>[p_vaddr, p_vaddr + p_memsz)</c>). As for <see cref="FromImage"/>, the "file offset" of an
    /// address is the address itself.
    /// </summary>
    public static VirtualView FromRegions(string fileName, IEnumerable<(ulong Address, ReadOnlyMemory<byte> Bytes)> regions)
    {
        ArgumentNullException.ThrowIfNull(regions);
        // A List is read as a span: its enumerator over this tuple is one more generic instantiation the JIT would
        // compile. (The mapper and the host modules pass spans.)
        return regions is List<(ulong Address, ReadOnlyMemory<byte> Bytes)> list
            ? FromRegions(fileName, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list))
            : FromRegions(fileName, [.. regions]);
    }

    /// <inheritdoc cref="FromRegions(string, IEnumerable{ValueTuple{ulong, ReadOnlyMemory{byte}}})"/>
    public static VirtualView FromRegions(string fileName, ReadOnlySpan<(ulong Address, ReadOnlyMemory<byte> Bytes)> regions)
    {
        var sorted = new Region[regions.Length];
        for (int i = 0; i < regions.Length; i++)
        {
            var (address, bytes) = regions[i];
            if (ThrowHelper.OutOfRange(address, (ulong)bytes.Length, ulong.MaxValue))
                throw new ArgumentException($"the region at 0x{address:x} of 0x{bytes.Length:x} bytes runs past the end of the address space", nameof(regions));
            sorted[i] = new Region(address, bytes);
        }
        // By address, with an insertion sort: a handful of regions (one per PT_LOAD), and no Comparison delegate, whose
        // generic sort over Region ReadyToRun cannot precompile (the JIT would compile it on the first load).
        for (int i = 1; i < sorted.Length; i++)
        {
            var region = sorted[i];
            int j = i - 1;
            for (; j >= 0 && sorted[j].Start > region.Start; j--)
                sorted[j + 1] = sorted[j];
            sorted[j + 1] = region;
        }
        return new VirtualView(fileName, sorted);
    }

    /// <summary>
    /// Returns the bytes of <c>[address, address + length)</c>, which must lie inside one region; otherwise an
    /// <see cref="ElfFormatException"/> names <paramref name="field"/> and the address.
    /// </summary>
    public ReadOnlyMemory<byte> Read(ulong address, ulong length, string field)
    {
        for (int i = 0, count = RegionCount; i < count; i++)
        {
            var (regionStart, regionLength) = _source.ViewRegionExtent(i);
            if (address >= regionStart && address - regionStart <= regionLength)
            {
                ulong start = address - regionStart;
                if (ThrowHelper.OutOfRange(start, length, regionLength))
                    continue;
                return _source.ViewRegionBytes(i).Slice((int)start, (int)length);
            }
        }
        return ThrowHelper.Format<ReadOnlyMemory<byte>>(FileName, field, address,
            $"range of 0x{length:x} bytes at virtual address 0x{address:x} lies outside every PT_LOAD");
    }

    /// <summary>The bytes from <paramref name="address"/> to the end of the region that holds it (for tables whose length is not stored).</summary>
    public ReadOnlyMemory<byte> ReadToEnd(ulong address, string field)
    {
        for (int i = 0, count = RegionCount; i < count; i++)
        {
            var (regionStart, regionLength) = _source.ViewRegionExtent(i);
            if (address >= regionStart && address - regionStart < regionLength)
                return _source.ViewRegionBytes(i)[(int)(address - regionStart)..];
        }
        return ThrowHelper.Format<ReadOnlyMemory<byte>>(FileName, field, address,
            $"virtual address 0x{address:x} lies outside every PT_LOAD");
    }

    /// <summary>The file offset of a virtual address, when it is file-backed (for messages and the CLI).</summary>
    public bool TryGetFileOffset(ulong address, out ulong offset)
    {
        for (int i = 0, count = RegionCount; i < count; i++)
        {
            var (regionStart, regionLength) = _source.ViewRegionExtent(i);
            if (address >= regionStart && address - regionStart < regionLength)
            {
                offset = (_source is RegionArray { FileOffsets: { } offsets } ? offsets[i] : regionStart) + (address - regionStart);
                return true;
            }
        }
        offset = 0;
        return false;
    }

    private readonly record struct Region(ulong Start, ReadOnlyMemory<byte> Bytes);

    /// <summary>Regions listed once, in address order, with each one's file offset for a file on disk (null when an
    /// address is its own offset).</summary>
    private sealed class RegionArray(Region[] regions, ulong[]? fileOffsets) : IViewRegions
    {
        public ulong[]? FileOffsets => fileOffsets;

        public int ViewRegionCount => regions.Length;

        public (ulong Start, ulong Length) ViewRegionExtent(int index) => (regions[index].Start, (ulong)regions[index].Bytes.Length);

        public ReadOnlyMemory<byte> ViewRegionBytes(int index) => regions[index].Bytes;
    }
}

/// <summary>What lists a <see cref="VirtualView"/>'s regions: in address order, each <c>[start, start + length)</c>
/// readable. The view matches an address against the extents and asks for the bytes of the one region that holds it.</summary>
internal interface IViewRegions
{
    int ViewRegionCount { get; }

    (ulong Start, ulong Length) ViewRegionExtent(int index);

    /// <summary>Region <paramref name="index"/>'s bytes, as long as its extent.</summary>
    ReadOnlyMemory<byte> ViewRegionBytes(int index);
}
