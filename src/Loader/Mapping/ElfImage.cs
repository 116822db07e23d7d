using Loader.Elf;
using Loader.Native;

namespace Loader.Mapping;

/// <summary>
/// An ELF shared object mapped into this process the way a dynamic loader maps it: one reservation, each PT_LOAD
/// at <c>base + p_vaddr</c> with its protection, .bss zeroed, gaps PROT_NONE, RELRO read-only. Nothing is
/// relocated and nothing runs. <see cref="Dispose"/> unmaps it.
/// </summary>
public sealed class ElfImage : IDisposable, IViewRegions
{
    private readonly ImageMemory _memory;
    // The steps are listed again from the plan when asked (MappingScript): the image keeps what the kernel answered,
    // whether RELRO's step came after the mapping, and a list only for the steps nothing derives (text relocations,
    // shared RELRO, a caller's range given back). Changed under _memory's monitor (internal, never locked elsewhere
    // but by ImageMemory itself).
    private readonly MappedSteps _mapped;
    private readonly bool _relroAppliedByMapping;
    private bool _relroStepNotListed;
    private List<MappingStep>? _laterSteps;
    private readonly IReadOnlyList<ProgramHeader> _programHeaders;
    private DynamicTables? _tables;
    private int _disposed;

    internal ElfImage(LoadPlan plan, nint bias, AddressRange reserved, ImageMemory memory,
        bool fromMemory, bool relroApplied, IReadOnlyList<ProgramHeader> programHeaders, MappedSteps mapped)
    {
        _programHeaders = programHeaders;
        Plan = plan;
        BaseAddress = bias;
        ReservedRange = reserved;
        _memory = memory;
        _mapped = mapped;
        _relroAppliedByMapping = relroApplied;
        IsFromMemory = fromMemory;
        IsRelroApplied = relroApplied;
        DeclareWritableSegments();
    }

    /// <summary>Maps the shared object at <paramref name="path"/> (opened once, O_RDONLY|O_CLOEXEC|O_NONBLOCK; a regular file only).</summary>
    /// <exception cref="UnsupportedElfException">The file is not an x86_64 ELF64 shared object.</exception>
    /// <exception cref="ElfFormatException">The headers are malformed or refused by the plan.</exception>
    /// <exception cref="ImageLoadException">A system call failed; nothing is left mapped or open.</exception>
    public static ElfImage Map(string path, MapOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= MapOptions.Default;
        return Mapping.RelroSharing.WriteAfterMap(Mapper.MapFile(path, options), options);
    }

    /// <summary>
    /// Maps a shared object held in memory: the bytes are written into a <c>memfd_create(name, MFD_CLOEXEC|MFD_ALLOW_SEALING)</c>
    /// file, sealed against any change of size or content, and mapped from it exactly as from disk, so /proc/self/maps
    /// shows <c>/memfd:NAME (deleted)</c> and nobody can shrink the file under the mapping.
    /// </summary>
    /// <param name="image">The whole file's bytes.</param>
    /// <param name="name">Used in messages and as <see cref="Path"/>; the memfd is named with its first 249 UTF-8 bytes
    /// (the kernel's limit).</param>
    /// <param name="options">Mapping options, or the defaults.</param>
    public static ElfImage Map(ReadOnlySpan<byte> image, string name, MapOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('\0'))
            throw new ArgumentException("An image's name has no NUL character.", nameof(name));
        options ??= MapOptions.Default;
        return Mapping.RelroSharing.WriteAfterMap(Mapper.MapMemory(image, name, options), options);
    }

    /// <summary>The load bias: the absolute address of link-time address 0, so PT_LOAD i starts at BaseAddress + p_vaddr.</summary>
    public nint BaseAddress { get; }

    /// <summary>The size of the reservation in bytes (the page-rounded span of the PT_LOADs).</summary>
    public ulong Size => ReservedRange.Length;

    /// <summary>The path mapped, or the name given for an image mapped from memory.</summary>
    public string Path => Plan.FileName; // the name the mapper was given, kept once (the plan's)

    /// <summary>DT_SONAME, or null (read from the mapped image when it was mapped).</summary>
    public string? SoName => _tables?.SoName;

    /// <summary>The plan that was executed.</summary>
    public LoadPlan Plan { get; }

    /// <summary>The unwind table as the mapper checked it before the overlays, or null when it did not (then the
    /// registry checks it in the mapped image).</summary>
    internal CheckedUnwindTable? UnwindTableChecked
    {
        get => _unwindTableChecked switch
        {
            0 or NotRequested => null,
            NothingToRegister => new CheckedUnwindTable(null),
            var startPlusOne => new CheckedUnwindTable(startPlusOne - 1),
        };
        init => _unwindTableChecked = value is not { } table ? 0 : table.Start is { } start ? start + 1 : NothingToRegister;
    }

    /// <summary>The load asked for no unwind table (<see cref="LoadOptions.RegisterUnwindTables"/> false): none was
    /// checked or registered, and none is.</summary>
    internal bool UnwindTableNotRequested
    {
        get => _unwindTableChecked == NotRequested;
        init
        {
            if (value)
                _unwindTableChecked = NotRequested;
        }
    }

    // One word for these facts, as an image is kept for as long as its library (docs/benchmarks.md, "Memory held"):
    // 0 not checked, NothingToRegister, NotRequested, or the table's address + 1 (an address inside a PT_LOAD, which
    // the plan's checks keep far below either).
    private readonly ulong _unwindTableChecked;
    private const ulong NothingToRegister = ulong.MaxValue;
    private const ulong NotRequested = ulong.MaxValue - 1;

    /// <summary>The address of the <c>.eh_frame</c> registered with libgcc for this image, or 0; taken off before
    /// the image is unmapped.</summary>
    internal nint RegisteredEhFrame { get; set; }

    /// <summary>The array libgcc was given for <see cref="RegisteredEhFrame"/> when it was registered through one
    /// (<see cref="FrameRegistration.RegisterThroughArray"/>), or 0 when libgcc was given the table itself.</summary>
    internal nint RegisteredThroughArray { get; set; }

    /// <summary>Registered while libgcc has the table; otherwise the table is walked again to tell nothing to register
    /// from a table the check refuses (a malformed <c>.eh_frame_hdr</c> is a refusal too).</summary>
    internal UnwindTableState CurrentUnwindTable()
    {
        if (RegisteredEhFrame != 0)
            return UnwindTableState.Registered;
        if (UnwindTableNotRequested)
            return UnwindTableCheck.EhFrameHeader(ProgramHeaders) is not null ? UnwindTableState.NotRegistered : UnwindTableState.None;
        try
        {
            // A load registers every table the check accepts, so a found table that is not registered is not seen from
            // a library; were it, no exception could unwind through it either.
            return UnwindTableCheck.Find(Path, ProgramHeaders, Plan, _memory, BaseAddress, out bool refused) is not null || refused
                ? UnwindTableState.Refused
                : UnwindTableState.None;
        }
        catch (ElfFormatException)
        {
            return UnwindTableState.Refused;
        }
    }

    /// <summary>Takes the image's unwind table off libgcc's list, once.</summary>
    internal void DeregisterUnwindTable()
    {
        nint ehFrame = RegisteredEhFrame;
        if (ehFrame == 0)
            return;
        RegisteredEhFrame = 0;
        nint array = RegisteredThroughArray;
        RegisteredThroughArray = 0;
        if (array != 0)
            FrameRegistration.DeregisterThroughArray(array);
        else
            FrameRegistration.Deregister(ehFrame);
    }

    /// <summary>The address range this image owns: every region lies in it, and Dispose unmaps exactly it.</summary>
    public AddressRange ReservedRange { get; }

    /// <summary>The device and inode of the file (or memfd) the image was mapped from.</summary>
    public FileIdentity File => Plan.MappedFile;

    /// <summary>True when the image was mapped from bytes through a memfd.</summary>
    public bool IsFromMemory { get; }

    /// <summary>True once PT_GNU_RELRO has been made read-only.</summary>
    public bool IsRelroApplied { get; private set; }

    /// <summary>True when the image lies in a range the caller reserved (<see cref="MapOptions.ReservedRange"/>):
    /// <see cref="Dispose"/> gives its span back as PROT_NONE pages instead of unmapping it.</summary>
    public bool IsInCallerReservation { get; internal init; }

    /// <summary>What sharing RELRO did (<see cref="LoadOptions.WriteRelro"/>, <see cref="LoadOptions.UseRelro"/>), or
    /// null when no sharing was asked.</summary>
    public RelroSharingReport? RelroSharing { get; internal set; }

    /// <summary>True once <see cref="Dispose"/> has unmapped the image.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>The regions in address order, with their absolute addresses and current protection.</summary>
    public IReadOnlyList<ImageSegment> Segments => BuildSegments();

    /// <summary>Every mmap, mprotect, munmap (and .bss memset) made for this image, in order.</summary>
    public IReadOnlyList<MappingStep> MappingSteps
    {
        get
        {
            var steps = new List<MappingStep>();
            AddressRange? callerRange = _mapped.CallerRangeLength != 0 ? new AddressRange(_mapped.Reservation, _mapped.CallerRangeLength) : null;
            MappingScript.AppendMapped(steps, Plan, Plan.PageSize, _mapped.Reservation, callerRange, BaseAddress,
                _mapped.FirstOverlayEnd, _mapped.TableInFirstOverlay, _relroAppliedByMapping, _mapped.PrefaultWritable);
            lock (_memory)
            {
                if (_relroStepNotListed && MappingScript.Relro(Plan, BaseAddress) is { } relro)
                    steps.Add(relro);
                if (_laterSteps is not null)
                    steps.AddRange(_laterSteps);
            }
            if (IsDisposed && !IsInCallerReservation)
                steps.Add(MappingScript.Unmap(ReservedRange));
            return steps;
        }
    }

    /// <summary>
    /// Makes PT_GNU_RELRO read-only (when <see cref="MapOptions.ApplyRelro"/> deferred it, for relocation). Does
    /// nothing when already applied or when the file has no PT_GNU_RELRO.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The image has been disposed.</exception>
    /// <exception cref="ImageLoadException">mprotect failed.</exception>
    public void ApplyRelro()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        lock (_memory)
        {
            if (IsRelroApplied)
                return;
            if (Mapper.ProtectRelro(Plan, BaseAddress, Path) is { } step)
            {
                if (_laterSteps is null)
                    _relroStepNotListed = true; // listed from the plan (most images record nothing else)
                else
                    _laterSteps.Add(step);
            }
            if (Plan.Relro is { Length: > 0 } relro)
                _memory.ExcludeWritable((nint)((ulong)BaseAddress + relro.Address), relro.Length);
            IsRelroApplied = true;
        }
    }

    /// <summary>
    /// The mapped bytes at link-time address <paramref name="virtualAddress"/> (BaseAddress + virtualAddress); the
    /// range must lie inside one readable PT_LOAD's pages. Valid until <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside a readable PT_LOAD.</exception>
    public ReadOnlySpan<byte> GetBytes(ulong virtualAddress, int length)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        foreach (var o in Plan.OverlaySpan)
        {
            if (virtualAddress >= o.Address && virtualAddress <= o.MemoryEnd && (ulong)length <= o.MemoryEnd - virtualAddress
                && (o.Protection & MemoryProtection.Read) != 0)
                return _memory.GetSpan((nint)((ulong)BaseAddress + virtualAddress), length);
        }
        throw new ArgumentOutOfRangeException(nameof(virtualAddress),
            $"{Path}: [0x{virtualAddress:x}, +0x{length:x}) is not inside a readable PT_LOAD");
    }

    /// <summary>The program headers, as the file has them: read in place from the PT_LOAD that maps them (valid until
    /// <see cref="Dispose"/>).</summary>
    public IReadOnlyList<ProgramHeader> ProgramHeaders
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _programHeaders;
        }
    }

    /// <summary>
    /// The dynamic section read from the mapped image (PT_DYNAMIC at BaseAddress + p_vaddr), or null for an object
    /// without one. Read as a loader reads it: from memory, not from the file, and in place (valid until
    /// <see cref="Dispose"/>).
    /// </summary>
    public DynamicSection? Dynamic
    {
        get
        {
            EnsureTables();
            return _tables?.Dynamic;
        }
    }

    /// <summary>
    /// The dynamic tables (strings, symbols, versions, hashes, relocations) read in place from the mapped image
    /// through a <see cref="VirtualView"/> over its readable PT_LOADs (docs/architecture.md, "One reader, three
    /// views"). Null for an object without PT_DYNAMIC. Valid until <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="ElfFormatException">A table lies outside the readable PT_LOADs.</exception>
    public DynamicTables? Tables
    {
        get
        {
            EnsureTables();
            return _tables;
        }
    }

    /// <summary>The bounds-checked door into the image's bytes, for the relocator.</summary>
    internal ImageMemory Memory => _memory;

    /// <summary>Records a step made on the image after mapping (shared RELRO).</summary>
    internal void Record(MappingStep step)
    {
        lock (_memory)
        {
            if (_laterSteps is null)
            {
                _laterSteps = new List<MappingStep>();
                if (_relroStepNotListed && MappingScript.Relro(Plan, BaseAddress) is { } relro)
                    _laterSteps.Add(relro); // in its place, before this one
                _relroStepNotListed = false;
            }
            _laterSteps.Add(step);
        }
    }

    /// <summary>Reads PT_DYNAMIC and its tables from the mapped image; the mapper calls it before returning the image,
    /// so that a table outside the image refuses the mapping. <paramref name="forRelocation"/>: a load relocates the
    /// image next, and its relocator checks the Elf64_Rela tables' symbol indices as it reads each entry
    /// (<see cref="DynamicTables.ReadWithGnuHash"/>).</summary>
    internal void ReadDynamicTables(bool forRelocation, IReadOnlyList<ProgramHeader> decodedHeaders) =>
        EnsureTables(forRelocation, decodedHeaders);

    private void EnsureTables(bool forRelocation = false, IReadOnlyList<ProgramHeader>? decodedHeaders = null)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (_tables is not null)
            return;
        // The mapper's decoded copy of the same headers when it has one (the plan was made from it): the image's own
        // table decodes each entry from the mapped first page as it is indexed.
        var headers = decodedHeaders ?? _programHeaders;
        int dynamicIndex = DynamicSegment.IndexIn(headers);
        if (dynamicIndex < 0)
            return;
        var enc = new ElfEncoding(ElfClass.Elf64, ElfData.LittleEndian);
        // The view's regions are listed from the plan when it reads (IViewRegions), not copied into it.
        var view = VirtualView.FromSource(Path, this);
        var dynamicHeader = headers[dynamicIndex];
        // The first access to a writable segment's page is a write: a read would make the kernel map the page and its
        // neighbours (fault-around, up to 64 KB) read-only from the file, and the relocations' writes to each of them
        // would then replace a present page — a TLB flush on every CPU the process runs on, each. A write fault maps
        // only the process's own copy of the one page; the relocations' first writes to the others then find them
        // absent and copy them without a flush (docs/architecture.md, "Mapping, as built"). A page RELRO has already
        // made read-only (an image mapped without relocation) is not writable, and only read.
        _memory.TouchForWrite((nint)((ulong)BaseAddress + dynamicHeader.VirtualAddress));
        var bytes = view.Read(dynamicHeader.VirtualAddress, dynamicHeader.FileSize, "PT_DYNAMIC");
        var dynamic = DynamicSection.Read(bytes, enc, dynamicHeader.VirtualAddress, dynamicHeader.Offset, Path);
        GnuHashTable? gnuHash = dynamic.TryGet(DynamicTag.GnuHash, out ulong gnuHashAddress)
            ? GnuHashTable.Read(view, gnuHashAddress, enc) : null;
        _tables = DynamicTables.ReadWithGnuHash(view, dynamic, enc,
            SymbolCountFromSections(dynamic) ?? SymbolCountWhenHashIsShort(dynamic, gnuHash), gnuHash, relocatorChecksRela64: forRelocation);
    }

    // The view's regions: the readable PT_LOADs' file-backed bytes, in address order (the plan's).
    int IViewRegions.ViewRegionCount
    {
        get
        {
            int readable = 0;
            foreach (var o in Plan.OverlaySpan)
                if (IsReadFromFile(o))
                    readable++;
            return readable;
        }
    }

    (ulong Start, ulong Length) IViewRegions.ViewRegionExtent(int index)
    {
        var o = ReadableOverlay(index);
        return (o.VirtualAddress, o.FileSize);
    }

    ReadOnlyMemory<byte> IViewRegions.ViewRegionBytes(int index)
    {
        var o = ReadableOverlay(index);
        return _memory.GetMemory((nint)((ulong)BaseAddress + o.VirtualAddress), checked((int)o.FileSize));
    }

    private SegmentOverlay ReadableOverlay(int index)
    {
        foreach (var o in Plan.OverlaySpan)
            if (IsReadFromFile(o) && index-- == 0)
                return o;
        throw new ArgumentOutOfRangeException(nameof(index));
    }

    private static bool IsReadFromFile(in SegmentOverlay overlay) =>
        (overlay.Protection & MemoryProtection.Read) != 0 && overlay.FileSize > 0;

    /// <summary>
    /// .dynsym's size when the section headers are at hand (read with the headers, as for a memfd) or are the only
    /// source (no DT_GNU_HASH and no DT_HASH: then they are read now); null otherwise, and the hash tables count.
    /// </summary>
    private int? SymbolCountFromSections(DynamicSection dynamic)
    {
        bool sectionsRead = Plan.SectionsReadWithHeaders;
        bool noHash = !dynamic.Has(DynamicTag.GnuHash) && !dynamic.Has(DynamicTag.Hash);
        return sectionsRead || noHash ? HeaderTables.DynamicSymbolCount(dynamic, Plan.Sections, ElfClass.Elf64) : null;
    }

    /// <summary>
    /// The symbol count a DT_GNU_HASH cannot give: one that hashes no symbol (every bucket empty) implies only
    /// symoffset symbols, though the references below symoffset may be more; then (and without a DT_HASH) .dynsym's
    /// size is asked of the section headers, which the mapper did not read. Null otherwise (the hash table counts).
    /// </summary>
    private int? SymbolCountWhenHashIsShort(DynamicSection dynamic, GnuHashTable? gnu)
    {
        if (dynamic.Has(DynamicTag.Hash) || gnu is null)
            return null;
        return gnu.SymbolCount > gnu.SymbolOffset ? null : HeaderTables.DynamicSymbolCount(dynamic, Plan.Sections, ElfClass.Elf64);
    }

    /// <summary>The image is relocated: the writable ranges the relocator wrote through are withdrawn (a later write
    /// through the image's memory is refused), and not kept while the image stays loaded.</summary>
    internal void EndRelocation() => _memory.CloseWrites();

    /// <summary>
    /// For DT_TEXTREL: makes every non-writable PT_LOAD read-write and <em>not</em> executable (W^X holds even
    /// now), and declares it writable for the relocator. <see cref="RestoreTextProtection"/> undoes it.
    /// </summary>
    internal void MakeTextWritable()
    {
        foreach (var o in Plan.OverlaySpan)
        {
            if ((o.Protection & MemoryProtection.Write) != 0 || o.Length == 0)
                continue;
            nint address = (nint)((ulong)BaseAddress + o.Address);
            Protect(MappingStepKind.UnprotectForTextRelocation, address, o.Length, MemoryProtection.Read | MemoryProtection.Write,
                $"make {o.Name} read-write (not executable) to apply DT_TEXTREL relocations");
            _memory.AddWritable(address, o.Length);
        }
    }

    /// <summary>Gives the PT_LOADs <see cref="MakeTextWritable"/> changed their own protection back.</summary>
    internal void RestoreTextProtection()
    {
        foreach (var o in Plan.OverlaySpan)
        {
            if ((o.Protection & MemoryProtection.Write) != 0 || o.Length == 0)
                continue;
            nint address = (nint)((ulong)BaseAddress + o.Address);
            _memory.RemoveWritable(address, o.Length);
            Protect(MappingStepKind.RestoreAfterTextRelocation, address, o.Length, o.Protection,
                $"restore {o.Name} to {o.Protection.ToMapsString()} after its text relocations");
        }
    }

    private void Protect(MappingStepKind kind, nint address, ulong length, MemoryProtection protection, string reason)
    {
        var step = new MappingStep(kind, address, length, protection, MappingFlags.None, null, reason);
        if (!Mmap.Protect(address, length, (Prot)protection, out int errno))
            ThrowHelper.ImageLoad(Path, "mprotect", errno, $"{Path}: {step} failed: {Errno.Describe(errno)}");
        Record(step);
    }

    /// <summary>The writable PT_LOADs (file pages and .bss) are where relocations may write.</summary>
    private void DeclareWritableSegments()
    {
        foreach (var o in Plan.OverlaySpan)
            if ((o.Protection & MemoryProtection.Write) != 0 && o.MemoryEnd > o.Address)
                _memory.AddWritable((nint)((ulong)BaseAddress + o.Address), o.MemoryEnd - o.Address);
        if (IsRelroApplied && Plan.Relro is { Length: > 0 } relro)
            _memory.ExcludeWritable((nint)((ulong)BaseAddress + relro.Address), relro.Length);
    }

    /// <summary>Unmaps the whole reservation (one munmap, recorded as a step), or gives a caller's range back as
    /// PROT_NONE pages. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        DeregisterUnwindTable(); // libgcc must not walk a table that is no longer mapped
        if (IsInCallerReservation)
        {
            if (ReservedRangeUse.Restore(ReservedRange.Start, ReservedRange.Length, "unload: the caller's range back to PROT_NONE") is { } restored)
                Record(restored);
            return;
        }
        Mmap.Unmap(ReservedRange.Start, ReservedRange.Length, out _); // listed as the last step from here on
    }

    private ImageSegment[] BuildSegments()
    {
        var relro = IsRelroApplied ? Plan.Relro : null;
        var regions = Plan.Regions;
        var segments = new ImageSegment[regions.Count];
        for (int i = 0; i < segments.Length; i++)
        {
            var r = regions[i];
            segments[i] = new ImageSegment((nint)((ulong)BaseAddress + r.Address), r.Size,
                r.Content == SegmentContent.Relro && relro is not null ? MemoryProtection.Read : r.Protection,
                r.Content, r.FileOffset, r.FileSize, r.MemorySize, r.Sections, r.ProgramHeaderIndex, r.Address);
        }
        return segments;
    }
}
