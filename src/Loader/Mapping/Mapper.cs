using Loader.Elf;
using Loader.Native;

namespace Loader.Mapping;

/// <summary>
/// Executes a <see cref="LoadPlan"/> in bionic's order (<c>linker_phdr.cpp</c>: read headers, reserve, load
/// segments, zero the bss tail, protect RELRO), recording every mmap, mprotect and munmap as a
/// <see cref="MappingStep"/>. Any failure after the reservation unmaps it; the descriptor is always closed
/// before returning.
/// </summary>
/// <remarks>
/// Headers: what the plan needs is read with <c>pread</c> (the ELF header, checked first; the section headers for
/// the regions' names, when a memfd is mapped; the program headers), never by mapping the file, so a file that
/// shrinks while it is read is refused instead of killing the process with SIGBUS. Everything else (DT_SONAME, the
/// symbols, the relocations) is read from the mapped image, as glibc reads it.
/// </remarks>
internal sealed class Mapper : IFileRangeReader
{
    // Set for one load (Rent), dropped after it (Return): a mapper waits between loads in its thread's slot, as the
    // relocator does, so that a load does not make one.
    private string _name = "";
    private MapOptions _options = MapOptions.Default;
    private readonly ulong _page = (ulong)Environment.SystemPageSize;

    // The part of the address space this load owns right now, released on failure; and where the kernel put the
    // reservation (the image lists its steps again from it: MappingScript).
    private nint _rawReservation;
    private nint _reservationStart;
    private ulong _reservationLength;
    private bool _callerOwnsReservation; // LoadOptions.ReservedRange: given back PROT_NONE, never unmapped

    [ThreadStatic]
    private static Mapper? t_spare;

    private Mapper()
    {
    }

    /// <summary>Maps with this thread's waiting mapper, or a new one when it is in use (a <see cref="MapOptions.BeforeStep"/>
    /// callback that maps too); taken out of the slot while it maps.</summary>
    private static ElfImage? MapWithSpare(FileDescriptor fd, string name, MapOptions options, bool fromMemory, IMappedFileCheck? check,
        FirstPage? firstPage = null)
    {
        var mapper = t_spare ?? new Mapper();
        t_spare = null;
        mapper._name = name;
        mapper._options = options;
        if (firstPage is { } given)
        {
            // Taken over now, so that the header buffers' return gives it back however the mapping ends.
            mapper._firstRented = given.Buffer;
            mapper._givenFirstLength = given.Length;
        }
        try
        {
            return mapper.Map(fd, name, fromMemory, check);
        }
        finally
        {
            mapper.Forget();
            t_spare = mapper;
        }
    }

    /// <summary>Lets go of everything the load used, so that the waiting mapper keeps nothing alive.</summary>
    private void Forget()
    {
        _name = "";
        _options = MapOptions.Default;
        _rawReservation = 0;
        _reservationStart = 0;
        _reservationLength = 0;
        _callerOwnsReservation = false;
        _registeredEhFrame = null;
        _status = null;
        _headerFile = null;
        _firstRead = default;
        _fileLength = 0;
        _givenFirstLength = -1;
    }

    public static ElfImage MapFile(string path, MapOptions options)
    {
        var fd = FileOpening.Open(path);
        return MapWithSpare(fd, path, options, fromMemory: false, check: null)!;
    }

    /// <summary>Maps from a descriptor the caller opened (with <see cref="FileOpening"/>'s flags); takes ownership of
    /// <paramref name="fd"/>, and of <paramref name="firstPage"/> when the caller has read it already (the mapper's first
    /// pread is then not made). Null when <paramref name="check"/> says, once the file is identified, that the caller
    /// already has it loaded: then nothing is left mapped.</summary>
    public static ElfImage? MapOpened(FileDescriptor fd, string path, MapOptions options, IMappedFileCheck check, FirstPage? firstPage = null) =>
        MapWithSpare(fd, path, options, fromMemory: false, check, firstPage);

    public static ElfImage MapMemory(ReadOnlySpan<byte> image, string name, MapOptions options)
    {
        var fd = Memfd.Create(name, image, out int errno, out string call)
            ?? ThrowHelper.ImageLoad<FileDescriptor>(name, call, errno,
                $"{name}: {MemfdCallText(call, name, image.Length)} failed: {Errno.Describe(errno)}");
        return MapWithSpare(fd, name, options, fromMemory: true, check: null)!;
    }

    private static string MemfdCallText(string call, string name, int length) => call switch
    {
        "write" => $"write of {length} bytes into the memfd",
        "fcntl" => "fcntl(F_ADD_SEALS, F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE|F_SEAL_SEAL) on the memfd",
        _ => $"memfd_create(\"{name}\", MFD_CLOEXEC|MFD_ALLOW_SEALING)",
    };

    /// <summary>
    /// open (the caller's), pread of the headers, the reservation, the overlays, one fstat, close — glibc's calls plus
    /// the reservation. The fstat comes once the file pages are mapped and before any is touched: it identifies the
    /// file (a file the caller already has is rolled back), refuses what is not a regular file, and checks that the
    /// PT_LOADs lie inside the file as it is now, so a file cut short before then is refused instead of raising
    /// SIGBUS. The unwind table (<see cref="UnwindTableCheck"/>) is checked after the fstat: in a copy of the file's
    /// bytes, one pread that takes the place of the table's own overlay when the first overlay maps its segment too
    /// (<see cref="UnwindTableCheck.CopyWindow"/>), or in the first overlay's pages, that overlay mapping up to the
    /// table's segment and the table's own overlay made last, to replace the pages the walk read
    /// (<see cref="MappingScript.OverlayAt"/>).
    /// </summary>
    private ElfImage? Map(FileDescriptor fd, string path, bool fromMemory, IMappedFileCheck? check)
    {
        bool mapped = false;
        try
        {
            var source = ReadHeaders(fd, fromMemory);
            var plan = LoadPlan.Create(source, _options, _page);

            nint bias = _options.ReservedRange is { } callerRange
                && ReservedRangeUse.Decide(plan, callerRange, _options.ReservedRangeIsHint, _name, _page)
                ? UseCallerReservation(plan, callerRange)
                : ReserveAddressSpace(plan);
            var memory = new ImageMemory(_reservationStart, _reservationLength);
            ulong extendedEnd = _options.CheckUnwindTable ? UnwindTableCheck.FirstOverlayExtension(plan, source.ProgramHeaders) : 0;
            CheckedUnwindTable? unwindTable = null;
            FileStatus status = default;
            var overlays = plan.OverlaySpan;
            // When the mapper registers nothing itself, a table that fits a spare buffer is checked in a copy (pread),
            // and no page of the image is touched. The longer first overlay then stays the table's PT_LOAD's mapping when
            // it maps it as that PT_LOAD's own overlay would (the pread takes that overlay's place); otherwise the
            // overlays are the plan's, in its order.
            var copyWindow = _options.RegisterUnwindTable || !_options.CheckUnwindTable ? null
                : UnwindTableCheck.CopyWindow(plan, source.ProgramHeaders, SpareBuffers.LargestKept);
            bool tableInFirst = copyWindow is { } copied && UnwindTableCheck.FirstOverlayMaps(plan, extendedEnd, copied.Segment);
            if (copyWindow is not null && !tableInFirst)
                extendedEnd = 0;
            int tableOverlay = MappingScript.TableOverlay(plan, extendedEnd);
            int steps = MappingScript.OverlaySteps(overlays.Length, tableOverlay, tableInFirst);
            // The file is identified, and the unwind table checked, once every overlay but the table's own is made.
            int checkAfter = tableOverlay < 0 || tableInFirst ? steps - 1 : steps - 2;
            for (int step = 0; step < steps; step++)
            {
                int i = MappingScript.OverlayAt(step, overlays.Length, tableOverlay, tableInFirst);
                if (MappingScript.Overlay(plan, i, bias, extendedEnd, tableInFirst, _options.PrefaultWritableSegments, _page) is { } overlayStep)
                    Execute(overlayStep, fd, memory);
                if (step == checkAfter)
                {
                    status = IdentifyMappedFile(fd, source, plan);
                    if (check is not null && check.IsAlreadyLoaded(new FileIdentity(status.Device, status.Inode)))
                        return null; // the finally block rolls the mapping back
                    if (copyWindow is { } window)
                    {
                        unwindTable = CheckUnwindTableInCopy(fd, path, source, plan, bias, (ulong)status.Size, window);
                    }
                    else if (extendedEnd != 0)
                    {
                        unwindTable = CheckUnwindTableInFirstOverlay(path, source, plan, memory, bias, extendedEnd);
                        if (_options.RegisterUnwindTable && unwindTable is { Start: { } start })
                            _registeredEhFrame = RegisterUnwindTable(bias, start);
                    }
                }
            }
            var bssSteps = new MappingScript.StepBuffer();
            foreach (var overlay in plan.OverlaySpan)
            {
                if (plan.BssOf(overlay) is not { } bss)
                    continue;
                int count = MappingScript.Bss(bss, bias, _page, bssSteps);
                for (int i = 0; i < count; i++)
                    Execute(bssSteps[i], null, memory);
            }
            fd.Dispose(); // as glibc: the descriptor is not needed once the file pages are mapped

            if (_options.ApplyRelro && MappingScript.Relro(plan, bias) is { } relroStep)
                Execute(relroStep, null, memory);

            plan.MappedAs(status.Device, status.Inode, status.Size);
            var image = new ElfImage(plan, bias, new AddressRange(_reservationStart, _reservationLength),
                memory, fromMemory, _options.ApplyRelro,
                ImageProgramHeaders(source, plan, bias, memory),
                new MappedSteps(_rawReservation, _callerOwnsReservation ? _options.ReservedRange!.Value.Length : 0, extendedEnd, tableInFirst,
                    _options.PrefaultWritableSegments))
            {
                IsInCallerReservation = _callerOwnsReservation,
                UnwindTableChecked = unwindTable,
                UnwindTableNotRequested = !_options.CheckUnwindTable,
                RegisteredEhFrame = _registeredEhFrame ?? 0,
            };
            // As glibc does, the dynamic section and its tables are read from the mapped image, not from the file; a
            // PIE (DF_1_PIE there) is refused now, and the rollback below unmaps it.
            image.ReadDynamicTables(forRelocation: check is not null, source.ProgramHeaders); // a load session's mapping, relocated next
            LoadPlan.CheckNotPie(image.Dynamic, source.ProgramHeaders, _name);
            mapped = true;
            return image;
        }
        finally
        {
            if (!mapped)
                RollBack();
            fd.Dispose();
            ReturnHeaderBuffers();
        }
    }

    /// <summary>
    /// The load's fstat, after the overlays that <paramref name="plan"/>'s file checks protect and before any file page
    /// is touched: a regular file whose length holds every PT_LOAD's bytes. The length was not known when the plan was
    /// made (<see cref="LoadPlan.UnknownFileLength"/>) unless an earlier fstat told it, in which case a file that is now
    /// shorter shrank while it was mapped.
    /// </summary>
    private FileStatus IdentifyMappedFile(FileDescriptor fd, PlanSource source, LoadPlan plan)
    {
        var status = FileOpening.ReadStatus(fd, _name);
        if (source.FileLength == LoadPlan.UnknownFileLength)
        {
            LoadPlan.CheckLoadsInsideFile(source, (ulong)status.Size);
            return status;
        }
        ulong needed = 0;
        foreach (var overlay in plan.OverlaySpan)
            needed = Math.Max(needed, overlay.Offset + overlay.FileSize);
        if ((ulong)status.Size < needed)
            ThrowHelper.ImageLoad(_name, "fstat", 0,
                $"{_name}: the file shrank to {status.Size} bytes while it was mapped; its PT_LOADs need {needed} bytes");
        return status;
    }

    /// <summary>
    /// Walks the unwind table where the extended first overlay shows it (the file's length is checked by then, so no
    /// page read lies past its end). Null when the walk needs bytes the longer mapping does not show, or the header is
    /// malformed: then the registry checks the mapped image after relocation, and reports what is wrong.
    /// </summary>
    private static CheckedUnwindTable? CheckUnwindTableInFirstOverlay(string path, PlanSource source, LoadPlan plan,
        ImageMemory memory, nint bias, ulong extendedEnd)
    {
        try
        {
            return new CheckedUnwindTable(UnwindTableCheck.Find(path, source.ProgramHeaders, plan, memory, bias, onlySegmentEndingAt: extendedEnd)?.Start);
        }
        catch (ElfFormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Checks the unwind table in a copy of the file's bytes (one pread into a spare buffer of the thread's, after the
    /// fstat that checked the file's length), so that not a page of the image is read: the registry registers it after
    /// relocation through an array, which libgcc does not read either (<see cref="Linking.LibgccRegistry"/>), and the
    /// table's pages stay on disk until an unwind needs them, as under glibc. Null when the header is malformed or the
    /// table does not lie in the copy: then the registry checks the mapped image, and reports what is wrong.
    /// </summary>
    private CheckedUnwindTable? CheckUnwindTableInCopy(FileDescriptor fd, string path, PlanSource source, LoadPlan plan,
        nint bias, ulong fileLength, (ulong Address, ulong FileOffset, int Length, int FileBytes, SegmentOverlay Segment) window)
    {
        var copy = ReadRange(fd, window.FileOffset, window.Length, fileLength, required: window.FileBytes).Span;
        try
        {
            return new CheckedUnwindTable(UnwindTableCheck.Find(path, source.ProgramHeaders, plan, new UnwindTableBytes(copy, window.Address),
                bias, out _, onlySegmentEndingAt: window.Segment.Address + window.Segment.Length)?.Start);
        }
        catch (ElfFormatException)
        {
            return null;
        }
    }

    // The .eh_frame address registered with libgcc while mapping: taken off again if the mapping is rolled back.
    private nint? _registeredEhFrame;

    /// <summary>
    /// libgcc's <c>__register_frame</c>, made while the extended first overlay still maps the table: it reads the
    /// table's first word, and that read's page fault maps the pages around it too (the kernel's fault-around), all in
    /// the mapping the other overlays replace. libgcc keeps only the address, which the replacing overlay maps with the
    /// same bytes; it reads the entries at the first unwind, after relocation (libgcc 12), and nothing in them that
    /// relocation writes (a personality routine's pointer is read only for a frame of this library, which has not run).
    /// </summary>
    private static nint RegisterUnwindTable(nint bias, ulong start)
    {
        nint ehFrame = (nint)((ulong)bias + start);
        FrameRegistration.Register(ehFrame);
        return ehFrame;
    }

    /// <summary>
    /// Reads what the plan needs with pread, never by mapping the file: a mapping of a file that shrinks raises
    /// SIGBUS on the first page past the new end. The ELF header is checked (class, machine, type) before anything
    /// else is read; then the program headers (and the section headers, when they are needed now). PT_DYNAMIC is read
    /// from the mapped image, as glibc reads it: one pread fewer, and a PIE is refused there (and unmapped). The file
    /// is fstat'ed here only when something needs its length now (headers past the first page, a memfd's section
    /// headers) or a read fails (to say what the file is when it is not a regular one); otherwise once it is mapped.
    /// </summary>
    private PlanSource ReadHeaders(FileDescriptor fd, bool fromMemory)
    {
        // One pread covers the ELF header and, in nearly every file, the program headers that follow it. A short read
        // is the whole file: its length is known.
        var first = ReadFirst(fd);
        ulong knownLength = first.Length < FirstReadLength ? (ulong)first.Length : LoadPlan.UnknownFileLength;
        ElfHeader header;
        try
        {
            header = ElfHeader.Read(first.Span, _name);
            LoadPlan.CheckRunnable(header, _name);
        }
        catch (LoaderException)
        {
            StatusNow(fd); // a directory, a FIFO or a device is refused as what it is, not as a malformed ELF file
            throw;
        }
        var encoding = new ElfEncoding(header.Class, header.Data);
        ulong tableEnd = header.ProgramHeaderOffset + (ulong)header.ProgramHeaderCount * header.ProgramHeaderEntrySize;
        bool sectionsNow = fromMemory || header.ProgramHeaderCount == ElfHeader.PN_XNUM;
        if (knownLength == LoadPlan.UnknownFileLength && (sectionsNow || tableEnd > (ulong)first.Length || tableEnd < header.ProgramHeaderOffset))
            knownLength = (ulong)StatusNow(fd).Size;
        // The tables' bounds are checked against the file's length, or against the first read that holds them.
        ulong bound = knownLength == LoadPlan.UnknownFileLength ? (ulong)first.Length : knownLength;
        (_headerFile, _firstRead, _fileLength) = (fd, first, bound);
        var read = this; // the mapper reads through itself (IFileRangeReader): nothing made per load

        // The section headers only name the regions for display (a loader needs none of them, as glibc reads none):
        // read now only when the load needs them (the real e_phnum under extended numbering) or when the file is a memfd
        // that closes with the load; otherwise read from the path when someone first asks for the regions' names, or for
        // .dynsym's size when a library has no hash table to count its symbols.
        IReadOnlyList<SectionHeader> sections = sectionsNow
            ? HeaderTables.ReadSections(header, encoding, _name, bound, read).Sections
            : HeaderTables.NoSections;
        var programHeaders = HeaderTables.ReadProgramHeaderTable(header, encoding, _name, bound, sections, read);
        if (programHeaders.Count > 0)
            programHeaders.DecodeEntries(_decodedHeaders = DecodedHeaderArray.Rent(programHeaders.Count));
        if (!sectionsNow)
            sections = LateSections.Later;
        return new PlanSource(_name, header, programHeaders, sections, knownLength);
    }

    /// <summary>fstat now (once per load), refusing what is not a regular file.</summary>
    private FileStatus StatusNow(FileDescriptor fd) => _status ??= FileOpening.ReadStatus(fd, _name);

    private FileStatus? _status;

    /// <summary>
    /// The program headers as the image holds them: a PT_LOAD maps them (nearly always the first, at file offset 0, as
    /// glibc's <c>l_phdr</c> finds them), so they are read there and the image keeps no copy; copied otherwise.
    /// </summary>
    private static IReadOnlyList<ProgramHeader> ImageProgramHeaders(PlanSource source, LoadPlan plan, nint bias, ImageMemory memory)
    {
        var table = (ProgramHeaderTable)source.ProgramHeaders;
        if (table.Count == 0)
            return ProgramHeaderTable.Empty;
        ulong offset = source.Header.ProgramHeaderOffset, length = (ulong)table.ByteLength;
        foreach (var o in plan.OverlaySpan)
        {
            if ((o.Protection & MemoryProtection.Read) != 0 && offset >= o.Offset && offset - o.Offset <= o.FileSize
                && length <= o.FileSize - (offset - o.Offset))
                return table.Over(memory.GetMemory((nint)((ulong)bias + o.VirtualAddress + (offset - o.Offset)), (int)length));
        }
        return table.ToArray();
    }

    /// <summary>A buffer from the thread's spares, kept until <see cref="ReturnHeaderBuffers"/>.</summary>
    private byte[] RentHeaderBuffer(int length)
    {
        byte[] buffer = SpareBuffers.Rent(length);
        if (_firstRented is null)
            _firstRented = buffer;
        else
            (_moreRented ??= []).Add(buffer);
        return buffer;
    }

    /// <summary>The header reads' buffers go back to the thread's spares once the image no longer reads them (it keeps what it
    /// needs: structs, strings, or views of the mapped image).</summary>
    private void ReturnHeaderBuffers()
    {
        if (_decodedHeaders is not null)
            DecodedHeaderArray.Return(_decodedHeaders);
        _decodedHeaders = null;
        if (_firstRented is not null)
            SpareBuffers.Return(_firstRented);
        _firstRented = null;
        if (_moreRented is null)
            return; // not `?? []`: that makes a list on every load
        foreach (var buffer in _moreRented)
            SpareBuffers.Return(buffer);
        _moreRented.Clear();
    }

    // What the header reads (IFileRangeReader.Read) read from while the headers are read: the file, its first
    // pread, and the length the tables are checked against.
    private FileDescriptor? _headerFile;
    private Memory<byte> _firstRead;
    private ulong _fileLength;

    ReadOnlyMemory<byte> IFileRangeReader.Read(ulong offset, int length) => offset + (ulong)length <= (ulong)_firstRead.Length
        ? _firstRead.Slice((int)offset, length)
        : ReadRange(_headerFile!, offset, length, _fileLength);

    /// <summary>glibc reads 832 bytes for the same purpose; a page holds the ELF header and up to 71 program headers.</summary>
    private const int FirstReadLength = FirstPage.ReadLength;

    // The length of the first page a caller read and handed over with the descriptor (its buffer is _firstRented); -1
    // when the mapper reads it itself.
    private int _givenFirstLength = -1;

    // The header reads' buffers, the thread's spares: given back when the headers are read. Nearly every load reads
    // once (the ELF header and the program headers): a list only for more.
    private byte[]? _firstRented;
    // The program headers decoded once (ProgramHeaderTable.DecodeEntries), returned with the buffers they were read from.
    private ProgramHeader[]? _decodedHeaders;
    private List<byte[]>? _moreRented;

    /// <summary>pread <paramref name="length"/> bytes, into a pooled buffer that lives until the headers are read; a
    /// read shorter than <paramref name="required"/> (all of them, unless given) means the file shrank after fstat, and
    /// what a shorter read leaves past the file's end is zeros, as a mapping shows the rest of a last page.</summary>
    private Memory<byte> ReadRange(FileDescriptor fd, ulong offset, int length, ulong fileLength, int required = -1)
    {
        var bytes = RentHeaderBuffer(length).AsMemory(0, length);
        int read = fd.ReadAt(bytes.Span, (long)offset, out int errno);
        if (read < 0)
            ThrowHelper.ImageLoad(_name, "pread", errno, $"{_name}: pread of {length} bytes at 0x{offset:x} failed: {Errno.Describe(errno)}");
        if (read < (required < 0 ? length : required))
            ThrowHelper.ImageLoad(_name, "pread", 0,
                $"{_name}: pread of {length} bytes at 0x{offset:x} returned {read}: the file is shorter than the {fileLength} bytes fstat reported (it shrank while being read)");
        bytes.Span[read..].Clear();
        return bytes;
    }

    /// <summary>pread of the file's first page (or all of a shorter file) into a pooled buffer; a failed read of a
    /// directory or a FIFO is refused as what the file is.</summary>
    private Memory<byte> ReadFirst(FileDescriptor fd)
    {
        if (_givenFirstLength >= 0)
            return _firstRented!.AsMemory(0, _givenFirstLength); // read by the caller's search, from this descriptor
        byte[] buffer = RentHeaderBuffer(FirstReadLength);
        int read = fd.ReadAt(buffer.AsSpan(0, FirstReadLength), 0, out int errno);
        if (read < 0)
        {
            StatusNow(fd);
            ThrowHelper.ImageLoad(_name, "pread", errno, $"{_name}: pread of {FirstReadLength} bytes at 0x0 failed: {Errno.Describe(errno)}");
        }
        return buffer.AsMemory(0, read);
    }

    /// <summary>
    /// One PROT_NONE mapping for the whole span, so that the overlays (MAP_FIXED) only ever replace our own pages.
    /// When p_align exceeds the page, over-reserve by the difference and trim both ends so the bias is aligned.
    /// </summary>
    private nint ReserveAddressSpace(LoadPlan plan)
    {
        var step = MappingScript.Reserve(plan, _page, 0);
        _options.BeforeStep?.Invoke(step);
        nint raw = Mmap.Map(0, step.Length, Prot.PROT_NONE,
            MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS | MapFlags.MAP_NORESERVE, -1, 0, out int errno);
        if (raw == Mmap.MAP_FAILED)
            Failed(step, "mmap", errno);
        _rawReservation = _reservationStart = raw;
        _reservationLength = step.Length;
        var trims = new MappingScript.StepBuffer();
        int count = MappingScript.Trims(plan, _page, raw, trims);
        for (int i = 0; i < count; i++)
            Execute(trims[i], null, null);
        return (nint)(MappingScript.SpanStart(plan, raw) - plan.StartAddress);
    }

    /// <summary>The caller's range holds the image: its start is the image's first page; nothing is reserved.</summary>
    private nint UseCallerReservation(LoadPlan plan, AddressRange range)
    {
        var step = ReservedRangeUse.UseStep(range, plan.Size);
        _options.BeforeStep?.Invoke(step);
        _rawReservation = _reservationStart = range.Start;
        _reservationLength = plan.Size;
        _callerOwnsReservation = true;
        return (nint)((ulong)range.Start - plan.StartAddress);
    }

    /// <summary>
    /// Makes one step's system call (or memset) after <see cref="MapOptions.BeforeStep"/> has seen it: a trim's munmap,
    /// an overlay's mmap of <paramref name="fd"/>, a .bss page's mprotect or memset, an anonymous mmap, RELRO's mprotect.
    /// </summary>
    private void Execute(in MappingStep step, FileDescriptor? fd, ImageMemory? memory)
    {
        _options.BeforeStep?.Invoke(step);
        int errno;
        switch (step.Kind)
        {
            case MappingStepKind.Trim:
                if (!Mmap.Unmap(step.Address, step.Length, out errno))
                    Failed(step, "munmap", errno);
                if (step.Address == _reservationStart)
                    _reservationStart = (nint)((ulong)step.Address + step.Length);
                _reservationLength -= step.Length;
                return;
            case MappingStepKind.Overlay:
                if (Mmap.Map(step.Address, step.Length, (Prot)step.Protection, (MapFlags)step.Flags, fd!, step.FileOffset!.Value, out errno) == Mmap.MAP_FAILED)
                    Failed(step, "mmap", errno);
                return;
            case MappingStepKind.MapBss:
                if (Mmap.Map(step.Address, step.Length, (Prot)step.Protection, (MapFlags)step.Flags, -1, 0, out errno) == Mmap.MAP_FAILED)
                    Failed(step, "mmap", errno);
                return;
            case MappingStepKind.ZeroFill:
                memory!.Clear(step.Address, step.Length);
                return;
            case MappingStepKind.UnprotectForZeroing or MappingStepKind.RestoreProtection or MappingStepKind.ProtectRelro:
                if (!Mmap.Protect(step.Address, step.Length, (Prot)step.Protection, out errno))
                    Failed(step, "mprotect", errno);
                return;
            default:
                throw new InvalidOperationException($"{step.Kind} is not a step the mapper makes");
        }
    }

    /// <summary>mprotect PT_GNU_RELRO's whole pages read-only for <see cref="ElfImage.ApplyRelro"/>, when the mapping
    /// deferred it; the step made, or null without RELRO.</summary>
    internal static MappingStep? ProtectRelro(LoadPlan plan, nint bias, string name)
    {
        if (MappingScript.Relro(plan, bias) is not { } step)
            return null;
        if (!Mmap.Protect(step.Address, step.Length, Prot.PROT_READ, out int errno))
            ThrowHelper.ImageLoad(name, "mprotect", errno, $"{name}: {step} failed: {Errno.Describe(errno)}");
        return step;
    }

    /// <summary>Unmap whatever of the reservation exists; the descriptor is closed by the caller.</summary>
    private void RollBack()
    {
        if (_registeredEhFrame is { } ehFrame)
        {
            _registeredEhFrame = null;
            FrameRegistration.Deregister(ehFrame);
        }
        if (_reservationLength == 0)
            return;
        if (_callerOwnsReservation)
            ReservedRangeUse.Restore(_reservationStart, _reservationLength, "roll back: the caller's range back to PROT_NONE");
        else
            Mmap.Unmap(_reservationStart, _reservationLength, out _);
        _reservationLength = 0;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void Failed(MappingStep step, string call, int errno) =>
        ThrowHelper.ImageLoad(_name, call, errno, $"{_name}: {step} failed: {Errno.Describe(errno)}");
}
