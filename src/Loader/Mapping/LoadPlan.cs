using System.Text;
using Loader.Elf;

namespace Loader.Mapping;

/// <summary>
/// Everything the mapper will do, decided from the headers before any system call: the span to reserve and its
/// alignment, one overlay per <c>PT_LOAD</c>, the .bss zeroing and anonymous pages, the gaps, the RELRO range.
/// Every refusal happens here, but one: when the mapper does not know the file's length yet, that the PT_LOADs lie
/// inside the file is checked once fstat has told it (<see cref="CheckLoadsInsideFile"/>). Addresses are link-time virtual addresses; the mapper adds the load bias.
/// Segments are named <c>PT_LOAD[N]</c> with N their index among all program headers, as the reader names them.
/// </summary>
public sealed class LoadPlan
{
    private LoadPlan(string fileName, ulong pageSize)
    {
        FileName = fileName;
        _pageShift = SegmentOverlay.PageShift(pageSize); // a power of two (Create checked it)
    }

    /// <summary>The file or image name, for messages.</summary>
    public string FileName { get; }

    /// <summary>The page size the plan was made for (<see cref="Environment.SystemPageSize"/>).</summary>
    public ulong PageSize => 1UL << _pageShift;

    private readonly byte _pageShift;

    /// <summary>The alignment of the load bias: the largest PT_LOAD p_align, at least a page.</summary>
    public ulong Alignment { get; private set; }

    /// <summary>pagedown(p_vaddr) of the first PT_LOAD: the start of the reservation, before the bias.</summary>
    public ulong StartAddress { get; private set; }

    /// <summary>pageup(p_vaddr + p_memsz) of the last PT_LOAD.</summary>
    public ulong EndAddress { get; private set; }

    /// <summary>The span to reserve: <see cref="EndAddress"/> - <see cref="StartAddress"/>.</summary>
    public ulong Size => EndAddress - StartAddress;

    /// <summary>One overlay per PT_LOAD, in address order.</summary>
    public IReadOnlyList<SegmentOverlay> Overlays => _overlays;

    /// <summary>The .bss of every PT_LOAD with p_memsz &gt; p_filesz (made from the overlays when first asked for;
    /// the load path asks <see cref="BssOf"/>).</summary>
    public IReadOnlyList<BssPlan> Bss => BuildBss();

    /// <summary>The PROT_NONE gaps between PT_LOADs.</summary>
    public IReadOnlyList<Gap> Gaps => _gaps;

    /// <summary>PT_GNU_RELRO (the last one, as glibc), or null.</summary>
    public RelroPlan? Relro => _relroIndex < 0 ? null : RelroFrom(_relroIndex, _relroSegmentIndex, _relroAddress, _relroSize);

    // PT_GNU_RELRO as its headers' indices and extent; its pages are worked out when read (a RelroPlan? field would be
    // 48 bytes of the plan, which an image keeps while it is mapped).
    private int _relroIndex = -1, _relroSegmentIndex;
    private ulong _relroAddress, _relroSize;

    private RelroPlan RelroFrom(int index, int segmentIndex, ulong address, ulong size)
    {
        ulong start = PageDown(address, PageSize);
        ulong pageEnd = Math.Max(start, PageDown(address + size, PageSize));
        return new RelroPlan(index, segmentIndex, address, size, start, pageEnd - start);
    }

    // Exact arrays of values: an image keeps its plan for as long as it is mapped (docs/benchmarks.md, "Memory held").
    // The load path reads them as spans (no interface call, and no generic instantiation over them for the JIT).
    private SegmentOverlay[] _overlays = NoOverlays;
    private Gap[] _gaps = NoGaps;
    private static readonly SegmentOverlay[] NoOverlays = new SegmentOverlay[0];
    private static readonly BssPlan[] NoBss = new BssPlan[0];
    private static readonly Gap[] NoGaps = new Gap[0];

    /// <summary><see cref="Overlays"/>, for the load path.</summary>
    internal ReadOnlySpan<SegmentOverlay> OverlaySpan => _overlays;

    /// <summary><see cref="Gaps"/> as a span, for the library's own loops.</summary>
    internal ReadOnlySpan<Gap> GapSpan => _gaps;

    /// <summary>The .bss of <paramref name="overlay"/>'s PT_LOAD, or null when p_memsz does not exceed p_filesz.</summary>
    internal BssPlan? BssOf(in SegmentOverlay overlay)
    {
        if (overlay.MemorySize <= overlay.FileSize)
            return null;
        ulong page = PageSize;
        ulong fileEnd = overlay.VirtualAddress + overlay.FileSize, memoryEnd = overlay.VirtualAddress + overlay.MemorySize;
        // Without file bytes there is no file page to zero: the anonymous pages start at the segment's first page.
        ulong anonymous = overlay.FileSize == 0 ? overlay.Address : PageUp(fileEnd, page);
        ulong zeroLength = overlay.FileSize == 0 ? 0 : Math.Min(PageUp(fileEnd, page), memoryEnd) - fileEnd;
        return new BssPlan(overlay.ProgramHeaderIndex, fileEnd, memoryEnd, fileEnd, zeroLength,
            anonymous, PageUp(memoryEnd, page) - anonymous, overlay.Protection);
    }

    private BssPlan[] BuildBss()
    {
        int count = 0;
        foreach (var o in _overlays)
            if (o.MemorySize > o.FileSize)
                count++;
        if (count == 0)
            return NoBss;
        var bss = new BssPlan[count];
        count = 0;
        foreach (var o in _overlays)
            if (BssOf(o) is { } planned)
                bss[count++] = planned;
        return bss;
    }

    /// <summary>The whole planned image, region by region in address order (file pages split at RELRO's end, .bss, gaps).</summary>
    public IReadOnlyList<PlannedRegion> Regions => RegionBuilder.Build(this, Sections);

    // The regions and the .bss plans only name what lies where (for display): built each time they are asked for, not
    // on every load, and not kept.
    private IReadOnlyList<SectionHeader> _sections = HeaderTables.NoSections;

    // A mapped file's section headers are read from its path when first asked for (LateSections), if it is still the
    // file that was mapped: what the mapper's fstat found, kept here rather than in an object made on every load (and
    // the image's File, which is read from here).
    private bool _sectionsLater;
    private ulong _mappedDevice, _mappedInode;
    private long _mappedSize = -1;

    /// <summary>The section headers the plan was made with (read on first use for a mapped file).</summary>
    internal IReadOnlyList<SectionHeader> Sections
    {
        get
        {
            if (_sectionsLater)
            {
                _sections = LateSections.Read(FileName, _mappedDevice, _mappedInode, _mappedSize);
                _sectionsLater = false;
            }
            return _sections;
        }
    }

    /// <summary>True when the section headers were read with the program headers (an <see cref="ElfFile"/>, a memfd,
    /// extended numbering), false when <see cref="Sections"/> reads them from the path.</summary>
    internal bool SectionsReadWithHeaders { get; private set; }

    /// <summary>The mapper's fstat of the file it mapped, for the section headers read later from the path.</summary>
    internal void MappedAs(ulong device, ulong inode, long size) => (_mappedDevice, _mappedInode, _mappedSize) = (device, inode, size);

    /// <summary>The device and inode of the file this plan was mapped from (the image's <see cref="ElfImage.File"/>).</summary>
    internal FileIdentity MappedFile => new(_mappedDevice, _mappedInode);

    /// <summary>Plans the mapping of <paramref name="file"/> for this system's page size, or throws
    /// <see cref="UnsupportedElfException"/> / <see cref="ElfFormatException"/> naming the field it refuses.</summary>
    public static LoadPlan Create(ElfFile file, MapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        return Create(file, options ?? MapOptions.Default, (ulong)Environment.SystemPageSize);
    }

    /// <summary>Plans for an explicit page size (tests use it to plan for 16 KiB or 64 KiB pages).</summary>
    internal static LoadPlan Create(ElfFile file, MapOptions options, ulong pageSize)
    {
        if (pageSize == 0 || (pageSize & (pageSize - 1)) != 0 || pageSize > 1UL << 31)
            throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, "The page size must be a power of two, at most 2 GiB.");
        CheckRunnable(file.Header, file.Name);
        CheckNotPie(file.Dynamic, file.ProgramHeaders, file.Name);
        return Create(PlanSource.From(file), options, pageSize);
    }

    /// <summary>Plans from headers read piece by piece (the mapper's pread); the caller has run
    /// <see cref="CheckRunnable"/> and <see cref="CheckNotPie"/>.</summary>
    internal static LoadPlan Create(PlanSource file, MapOptions options, ulong pageSize)
    {
        var plan = new LoadPlan(file.Name, pageSize);
        int count = 0;
        for (int i = 0; i < file.ProgramHeaders.Count; i++)
            if (file.ProgramHeaders[i].Type == SegmentType.Load)
                count++;
        // The PT_LOADs' indices, on the stack while the plan is made (its overlays keep the checked fields).
        Span<int> loads = count <= 64 ? stackalloc int[count] : new int[count];
        CheckLoads(file, options, pageSize, loads);
        plan.Build(file, loads, options);
        return plan;
    }

    /// <summary>The checks that need only the ELF header: class, byte order, machine, type. The mapper runs them on
    /// the pread header, before mapping anything.</summary>
    internal static void CheckRunnable(ElfHeader header, string name)
    {
        if (header.Class != ElfClass.Elf64)
            ThrowHelper.Unsupported(name, "e_ident[EI_CLASS]", ElfHeader.EI_CLASS, $"is {ClassName(header.Class)}; this loader runs ELFCLASS64 objects only");
        if (header.Data != ElfData.LittleEndian)
            ThrowHelper.Unsupported(name, "e_ident[EI_DATA]", ElfHeader.EI_DATA, "is ELFDATA2MSB (big-endian); this loader runs little-endian x86_64 objects only");
        if (header.Machine != ElfMachine.X86_64)
            ThrowHelper.Unsupported(name, "e_machine", (ulong)ElfHeader.OffsetOf(ElfHeader.Field.Machine, header.Class), $"is {MachineName(header.Machine)}, expected EM_X86_64 (62)");
        if (header.Type != ElfType.SharedObject)
            ThrowHelper.Unsupported(name, "e_type", (ulong)ElfHeader.OffsetOf(ElfHeader.Field.Type, header.Class), $"is {TypeName(header.Type)}, expected ET_DYN (3): only shared objects are loaded");
    }

    /// <summary>A PIE executable is ET_DYN too; DF_1_PIE (binutils 2.33+) is what tells it apart, and dlopen refuses
    /// it. <paramref name="dynamic"/> is the file's PT_DYNAMIC as chosen by <see cref="DynamicSegment.IndexIn"/>.</summary>
    internal static void CheckNotPie(DynamicSection? dynamic, IReadOnlyList<ProgramHeader> programHeaders, string name)
    {
        if (dynamic is null || (dynamic.Flags1 & DynamicFlags1.Pie) == 0)
            return;
        ulong offset = 0;
        // The dynamic section was read from this PT_DYNAMIC (the same rule), so the entry index maps to its file offset.
        var ph = programHeaders[DynamicSegment.IndexIn(programHeaders)];
        for (int i = 0; i < dynamic.Count; i++)
            if (dynamic[i].Tag == DynamicTag.Flags1)
                offset = ph.Offset + (ulong)i * 16;
        ThrowHelper.Unsupported(name, "DT_FLAGS_1", offset, "has DF_1_PIE: this is a position-independent executable, not a library (dlopen refuses it too)");
    }

    /// <summary>The <see cref="PlanSource.FileLength"/> of a file whose length the mapper learns only after mapping it
    /// (its fstat comes once the file pages are mapped, before any is touched): the file checks then wait for
    /// <see cref="CheckLoadsInsideFile"/>.</summary>
    internal const ulong UnknownFileLength = ulong.MaxValue;

    /// <summary>
    /// Every PT_LOAD's file bytes lie inside a file of <paramref name="fileLength"/> bytes: the check the plan
    /// makes when it knows the length, for the mapper to make once fstat has told it (same fields, same messages).
    /// </summary>
    internal static void CheckLoadsInsideFile(PlanSource file, ulong fileLength)
    {
        var headers = file.ProgramHeaders;
        for (int i = 0; i < headers.Count; i++)
            if (headers[i] is { Type: SegmentType.Load } ph)
                CheckInsideFile(file.Name, file.Header.ProgramHeaderOffset, i, ph, fileLength);
    }

    private static void CheckInsideFile(string name, ulong phoff, int i, ProgramHeader ph, ulong fileLength)
    {
        ulong FieldOffset(int field) => phoff + (ulong)i * ProgramHeader.Size64 + (ulong)field;
        if (ph.Offset > fileLength)
            ThrowHelper.Format(name, Segment(i) + " p_offset", FieldOffset(8), $"0x{ph.Offset:x} lies past the end of the {fileLength}-byte file");
        if (ph.FileSize > fileLength - ph.Offset)
            ThrowHelper.Format(name, Segment(i) + " p_filesz", FieldOffset(32), $"0x{ph.FileSize:x} bytes from p_offset 0x{ph.Offset:x} run past the end of the {fileLength}-byte file");
    }

    private static void CheckLoads(PlanSource file, MapOptions options, ulong page, Span<int> loads)
    {
        string name = file.Name;
        ulong phoff = file.Header.ProgramHeaderOffset;
        ulong FieldOffset(int index, int field) => phoff + (ulong)index * ProgramHeader.Size64 + (ulong)field;
        ulong fileLength = file.FileLength;

        for (int i = 0, n = 0; i < file.ProgramHeaders.Count; i++)
            if (file.ProgramHeaders[i].Type == SegmentType.Load)
                loads[n++] = i;
        if (loads.Length == 0)
            ThrowHelper.Format(name, "PT_LOAD", phoff, $"none of the {file.ProgramHeaders.Count} program headers is a PT_LOAD: there is nothing to map");

        (int Index, ProgramHeader Header)? previous = null;
        foreach (int i in loads)
        {
            var ph = file.ProgramHeaders[i];
            if (ph.Alignment > 1 && (ph.Alignment & (ph.Alignment - 1)) != 0)
                ThrowHelper.Format(name, Segment(i) + " p_align", FieldOffset(i, 48), $"0x{ph.Alignment:x} is not a power of two");
            if (ph.Alignment > 1 && ph.Alignment < page)
                ThrowHelper.Format(name, Segment(i) + " p_align", FieldOffset(i, 48), $"0x{ph.Alignment:x} is smaller than the 0x{page:x}-byte page, so the segment cannot be mapped at its p_vaddr (glibc refuses it too)");
            if ((ulong)options.MaxImageSize < ph.Alignment)
                ThrowHelper.Format(name, Segment(i) + " p_align", FieldOffset(i, 48), $"0x{ph.Alignment:x} exceeds the maximum image size 0x{options.MaxImageSize:x} (MaxImageSize)");
            if (ph.FileSize > ph.MemorySize)
                ThrowHelper.Format(name, Segment(i) + " p_filesz", FieldOffset(i, 32), $"0x{ph.FileSize:x} is larger than p_memsz 0x{ph.MemorySize:x}");
            if ((ph.VirtualAddress - ph.Offset) % page != 0)
                ThrowHelper.Format(name, Segment(i) + " p_offset", FieldOffset(i, 8),
                    $"0x{ph.Offset:x} and p_vaddr 0x{ph.VirtualAddress:x} disagree modulo the 0x{page:x}-byte page size, so the file page cannot be mapped at the address");
            // What an overlay can hold (SegmentOverlay packs them into one word): beyond, no real file goes — a
            // p_offset past 16 TiB (with 4 KiB pages) is past what ext4 can store, and 16 million program headers
            // would be a 900 MB table.
            if (i > SegmentOverlay.MaxProgramHeaderIndex)
                ThrowHelper.Format(name, Segment(i), FieldOffset(i, 0), $"is program header {i}: this loader maps PT_LOADs among the first {SegmentOverlay.MaxProgramHeaderIndex + 1} only");
            if (ph.Offset / page > SegmentOverlay.MaxFilePage)
                ThrowHelper.Format(name, Segment(i) + " p_offset", FieldOffset(i, 8), $"0x{ph.Offset:x} is past the 0x{(SegmentOverlay.MaxFilePage + 1) * page:x} bytes of a file this loader maps from");
            if ((ph.Flags & SegmentFlags.Write) != 0 && (ph.Flags & SegmentFlags.Execute) != 0)
                ThrowHelper.Format(name, Segment(i) + " p_flags", FieldOffset(i, 4), $"0x{(uint)ph.Flags:x} asks for write and execute at once; this loader maps no page W+X");
            if (fileLength != UnknownFileLength)
                CheckInsideFile(name, phoff, i, ph, fileLength);
            if (ph.VirtualAddress > ulong.MaxValue - page || ph.MemorySize > ulong.MaxValue - page - ph.VirtualAddress)
                ThrowHelper.Format(name, Segment(i) + " p_memsz", FieldOffset(i, 40), $"p_vaddr 0x{ph.VirtualAddress:x} + p_memsz 0x{ph.MemorySize:x} overflows the address space");
            if (previous is { } prev)
            {
                ulong prevEnd = prev.Header.VirtualAddress + prev.Header.MemorySize;
                if (ph.VirtualAddress < prev.Header.VirtualAddress)
                    ThrowHelper.Format(name, Segment(i) + " p_vaddr", FieldOffset(i, 16),
                        $"0x{ph.VirtualAddress:x} is below {Segment(prev.Index)}'s p_vaddr 0x{prev.Header.VirtualAddress:x}: PT_LOADs must be sorted by p_vaddr (ELF gABI)");
                if (ph.VirtualAddress < prevEnd)
                    ThrowHelper.Format(name, Segment(i) + " p_vaddr", FieldOffset(i, 16),
                        $"[0x{ph.VirtualAddress:x}, 0x{ph.VirtualAddress + ph.MemorySize:x}) overlaps {Segment(prev.Index)} [0x{prev.Header.VirtualAddress:x}, 0x{prevEnd:x})");
                // Two segments on one page would need two protections (and two file pages) for one page; glibc maps the
                // later one over the earlier one's tail. We refuse rather than silently lose bytes or .bss zeros.
                if (PageDown(ph.VirtualAddress, page) < PageUp(prevEnd, page))
                    ThrowHelper.Format(name, Segment(i) + " p_vaddr", FieldOffset(i, 16),
                        $"0x{ph.VirtualAddress:x} shares page 0x{PageDown(ph.VirtualAddress, page):x} with {Segment(prev.Index)} (which ends at 0x{prevEnd:x}); mmap cannot give one page two segments");
            }
            previous = (i, ph);
        }

        ulong start = PageDown(file.ProgramHeaders[loads[0]].VirtualAddress, page);
        int last = loads[^1];
        ulong end = PageUp(file.ProgramHeaders[last].VirtualAddress + file.ProgramHeaders[last].MemorySize, page);
        if (end - start > (ulong)options.MaxImageSize)
            ThrowHelper.Format(name, $"PT_LOAD[{last}] p_memsz", FieldOffset(last, 40),
                $"the PT_LOADs span 0x{end - start:x} bytes, more than the maximum image size 0x{options.MaxImageSize:x} (MaxImageSize)");
    }

    private void Build(PlanSource file, ReadOnlySpan<int> loads, MapOptions options)
    {
        ulong page = PageSize;
        var headers = file.ProgramHeaders;
        StartAddress = PageDown(headers[loads[0]].VirtualAddress, page);
        EndAddress = PageUp(headers[loads[^1]].VirtualAddress + headers[loads[^1]].MemorySize, page);
        ulong alignment = page;
        foreach (int index in loads)
            alignment = Math.Max(alignment, headers[index].Alignment);
        Alignment = alignment;

        var overlays = new SegmentOverlay[loads.Length];
        int gapCount = 0;
        for (int i = 0; i < loads.Length; i++)
        {
            var ph = headers[loads[i]];
            overlays[i] = new SegmentOverlay(loads[i], ph.VirtualAddress, ph.Offset, ph.FileSize, ph.MemorySize,
                MemoryProtectionExtensions.FromSegmentFlags(ph.Flags), page);
            if (i > 0 && overlays[i].Address > overlays[i - 1].MemoryEnd)
                gapCount++;
        }
        var gaps = gapCount == 0 ? NoGaps : new Gap[gapCount];
        gapCount = 0;
        for (int i = 1; i < overlays.Length; i++)
        {
            ref readonly var previous = ref overlays[i - 1];
            ref readonly var o = ref overlays[i];
            if (o.Address > previous.MemoryEnd)
                gaps[gapCount++] = new Gap(previous.MemoryEnd, o.Address - previous.MemoryEnd, previous.ProgramHeaderIndex, o.ProgramHeaderIndex);
        }
        _overlays = overlays;
        _gaps = gaps;
        if (PlanRelro(file, loads) is { } relro)
            (_relroIndex, _relroSegmentIndex, _relroAddress, _relroSize) = (relro.ProgramHeaderIndex, relro.SegmentProgramHeaderIndex, relro.VirtualAddress, relro.MemorySize);
        _sectionsLater = ReferenceEquals(file.Sections, LateSections.Later);
        SectionsReadWithHeaders = !_sectionsLater;
        _sections = _sectionsLater ? HeaderTables.NoSections : file.Sections;
    }

    private RelroPlan? PlanRelro(PlanSource file, ReadOnlySpan<int> loads)
    {
        int relroIndex = -1;
        for (int i = 0; i < file.ProgramHeaders.Count; i++)
            if (file.ProgramHeaders[i].Type == SegmentType.GnuRelro)
                relroIndex = i; // the last one wins, as in glibc's _dl_map_object_from_fd
        if (relroIndex < 0)
            return null;
        var relro = file.ProgramHeaders[relroIndex];
        ulong end = relro.VirtualAddress + relro.MemorySize;
        foreach (int index in loads)
        {
            var ph = file.ProgramHeaders[index];
            if (relro.VirtualAddress >= ph.VirtualAddress && end >= relro.VirtualAddress
                && end <= ph.VirtualAddress + ph.MemorySize)
            {
                return RelroFrom(relroIndex, index, relro.VirtualAddress, relro.MemorySize);
            }
        }
        return ThrowHelper.Format<RelroPlan>(FileName, $"PT_GNU_RELRO[{relroIndex}] p_vaddr",
            file.Header.ProgramHeaderOffset + (ulong)relroIndex * ProgramHeader.Size64 + 16,
            $"[0x{relro.VirtualAddress:x}, 0x{end:x}) lies outside every PT_LOAD");
    }

    /// <summary>The plan as a short text: span, alignment, then one line per overlay, .bss, gap and RELRO.</summary>
    public override string ToString()
    {
        // Unsigned numbers, hexadecimal and strings only: no culture is asked (CultureFreeText).
        var sb = new StringBuilder();
        sb.Append($"{FileName}: reserve 0x{Size:x} bytes [0x{StartAddress:x}, 0x{EndAddress:x}), base aligned to 0x{Alignment:x}, pages of 0x{PageSize:x}").AppendLine();
        foreach (var o in Overlays)
            sb.Append($"  overlay {o.Name} ({o.Content}) 0x{o.Address:x} +0x{o.Length:x} {o.Protection.ToMapsString()} from file offset 0x{o.FileOffset:x}").AppendLine();
        foreach (var b in Bss)
            sb.Append($"  bss PT_LOAD[{b.ProgramHeaderIndex}] [0x{b.Start:x}, 0x{b.End:x}): zero 0x{b.ZeroFillLength:x} bytes at 0x{b.ZeroFillAddress:x}, anonymous 0x{b.AnonymousAddress:x} +0x{b.AnonymousLength:x}").AppendLine();
        foreach (var g in Gaps)
            sb.Append($"  gap 0x{g.Address:x} +0x{g.Length:x} between PT_LOAD[{g.AfterProgramHeaderIndex}] and PT_LOAD[{g.BeforeProgramHeaderIndex}]").AppendLine();
        if (Relro is { } r)
            sb.Append($"  relro 0x{r.Address:x} +0x{r.Length:x} (PT_GNU_RELRO [0x{r.VirtualAddress:x}, +0x{r.MemorySize:x}) in PT_LOAD[{r.SegmentProgramHeaderIndex}])").AppendLine();
        return sb.ToString();
    }

    /// <summary>A segment's name in a refusal (made only for one: a plan that passes names nothing).</summary>
    private static string Segment(int index) => $"PT_LOAD[{index}]";

    internal static ulong PageDown(ulong value, ulong page) => value & ~(page - 1);

    internal static ulong PageUp(ulong value, ulong page) => (value + page - 1) & ~(page - 1);

    private static string ClassName(ElfClass c) => c switch
    {
        ElfClass.Elf32 => "ELFCLASS32",
        ElfClass.Elf64 => "ELFCLASS64",
        _ => $"class {(int)c}",
    };

    private static string TypeName(ElfType t) => t switch
    {
        ElfType.None => "ET_NONE (0)",
        ElfType.Relocatable => "ET_REL (1), a relocatable object",
        ElfType.Executable => "ET_EXEC (2), a fixed-address executable",
        ElfType.Core => "ET_CORE (4)",
        _ => $"0x{(ushort)t:x}",
    };

    private static string MachineName(ElfMachine m) =>
        Enum.IsDefined(m) ? $"EM_{CultureFreeText.AsciiUpper(m.ToString())} ({(ushort)m})" : $"machine {(ushort)m}";
}
