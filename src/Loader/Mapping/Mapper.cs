using System.Globalization;
using Loader.Elf;
using Loader.Native;

namespace Loader.Mapping;

/// <summary>
/// Executes a <see cref="LoadPlan"/> in bionic's order (<c>linker_phdr.cpp</c>: read headers, reserve, load
/// segments, zero the bss tail, protect RELRO), recording every mmap, mprotect and munmap as a
/// <see cref="MappingStep"/>. Any failure after the reservation unmaps it; the descriptor and the header view are
/// always released before returning.
/// </summary>
/// <remarks>
/// Headers: the ELF header is read with <c>pread</c> and checked (class, machine, type) before anything is
/// mapped; then the whole file is mapped read-only once from the same descriptor (bionic maps its header fragments
/// the same way) and parsed in place by <see cref="ElfFile.Parse"/>, because the plan needs more than the program
/// headers: DT_FLAGS_1 (DF_1_PIE), the section names for the regions, DT_SONAME. Reading all that with pread would
/// mean copying the file; the view is unmapped as soon as the overlays are in place.
/// </remarks>
internal sealed class Mapper
{
    private readonly string _name;
    private readonly MapOptions _options;
    private readonly ulong _page = (ulong)Environment.SystemPageSize;
    private readonly List<MappingStep> _steps = [];

    // The part of the address space this load owns right now, released on failure.
    private nint _reservationStart;
    private ulong _reservationLength;

    private Mapper(string name, MapOptions options)
    {
        _name = name;
        _options = options;
    }

    public static ElfImage MapFile(string path, MapOptions options)
    {
        var fd = FileOpening.Open(path);
        return new Mapper(path, options).Map(fd, path, fromMemory: false);
    }

    public static ElfImage MapMemory(ReadOnlySpan<byte> image, string name, MapOptions options)
    {
        var fd = Memfd.Create(name, image, out int errno, out string call)
            ?? ThrowHelper.ImageLoad<FileDescriptor>(name, call, errno,
                $"{name}: {(call == "write" ? $"write of {image.Length} bytes into the memfd" : $"memfd_create(\"{name}\", MFD_CLOEXEC)")} failed: {Errno.Describe(errno)}");
        return new Mapper(name, options).Map(fd, name, fromMemory: true);
    }

    private ElfImage Map(FileDescriptor fd, string path, bool fromMemory)
    {
        FileView? view = null;
        bool mapped = false;
        try
        {
            var status = ReadStatus(fd);
            ReadAndCheckHeader(fd, status);
            view = MapFileView(fd, status);
            var file = ElfFile.Parse(view.Memory, _name);
            var plan = LoadPlan.Create(file, _options, _page);
            string? soName = file.SoName;

            nint bias = ReserveAddressSpace(plan);
            var memory = new ImageMemory(_reservationStart, _reservationLength);
            foreach (var overlay in plan.Overlays)
            {
                OverlaySegment(overlay, fd, bias);
                if (plan.Bss.FirstOrDefault(b => b.ProgramHeaderIndex == overlay.ProgramHeaderIndex) is { } bss)
                    MapBss(bss, bias, memory);
            }
            fd.Dispose(); // as glibc: the descriptor is not needed once the file pages are mapped
            UnmapFileView(view);

            if (_options.ApplyRelro)
                ProtectRelro(plan, bias, _name, Record, _options.BeforeStep);

            var image = new ElfImage(path, soName, plan, bias, new AddressRange(_reservationStart, _reservationLength),
                memory, _steps, new FileIdentity(status.Device, status.Inode), fromMemory, _options.ApplyRelro,
                [.. file.ProgramHeaders], file.DynamicSymbols?.Count);
            mapped = true;
            return image;
        }
        finally
        {
            if (!mapped)
                RollBack(view);
            fd.Dispose();
        }
    }

    private FileStatus ReadStatus(FileDescriptor fd) => FileOpening.ReadStatus(fd, _name);

    /// <summary>pread the ELF header and refuse a file this loader cannot run before anything is mapped.</summary>
    private void ReadAndCheckHeader(FileDescriptor fd, FileStatus status)
    {
        Span<byte> header = stackalloc byte[ElfHeader.Size64];
        int read = fd.ReadAt(header, 0, out int errno);
        if (read < 0)
            ThrowHelper.ImageLoad(_name, "pread", errno, $"{_name}: pread of the ELF header failed: {Errno.Describe(errno)}");
        var parsed = ElfHeader.Read(header[..read], _name);
        LoadPlan.CheckRunnable(parsed, _name);
    }

    private FileView MapFileView(FileDescriptor fd, FileStatus status)
    {
        var step = new MappingStep(MappingStepKind.MapFileView, 0, (ulong)status.Size, MemoryProtection.Read,
            MappingFlags.Private, 0, "map the file read-only to read its headers, sections and dynamic table");
        _options.BeforeStep?.Invoke(step);
        var view = FileView.Map(fd, (int)status.Size, out int errno);
        if (view is null)
            Failed(step, "mmap", errno);
        Record(step with { Address = view.Address });
        return view;
    }

    private void UnmapFileView(FileView view)
    {
        var step = new MappingStep(MappingStepKind.UnmapFileView, view.Address, (ulong)view.Length, MemoryProtection.None,
            MappingFlags.None, null, "unmap the read-only view of the file: the headers have been read");
        _options.BeforeStep?.Invoke(step);
        if (!view.Unmap(out int errno))
            Failed(step, "munmap", errno);
        Record(step);
    }

    /// <summary>
    /// One PROT_NONE mapping for the whole span, so that the overlays (MAP_FIXED) only ever replace our own pages.
    /// When p_align exceeds the page, over-reserve by the difference and trim both ends so the bias is aligned.
    /// </summary>
    private nint ReserveAddressSpace(LoadPlan plan)
    {
        ulong align = plan.Alignment;
        ulong length = plan.Size + (align > _page ? align - _page : 0);
        var step = new MappingStep(MappingStepKind.Reserve, 0, length, MemoryProtection.None,
            MappingFlags.Private | MappingFlags.Anonymous | MappingFlags.NoReserve, null,
            align > _page
                ? $"reserve the image's span 0x{plan.Size:x} plus 0x{align - _page:x} to align the base to 0x{align:x}"
                : $"reserve the image's span 0x{plan.Size:x}");
        _options.BeforeStep?.Invoke(step);
        nint raw = Mmap.Map(0, length, Prot.PROT_NONE,
            MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS | MapFlags.MAP_NORESERVE, -1, 0, out int errno);
        if (raw == Mmap.MAP_FAILED)
            Failed(step, "mmap", errno);
        _reservationStart = raw;
        _reservationLength = length;
        Record(step with { Address = raw });

        // The bias must be a multiple of the alignment, so the reservation starts at StartAddress modulo it.
        ulong skew = plan.StartAddress % align;
        ulong start = ((ulong)raw - skew + align - 1) / align * align + skew;
        if (start > (ulong)raw)
            Trim(raw, start - (ulong)raw, $"trim 0x{start - (ulong)raw:x} bytes below the 0x{align:x}-aligned start");
        ulong end = start + plan.Size, rawEnd = (ulong)raw + length;
        if (rawEnd > end)
            Trim((nint)end, rawEnd - end, $"trim 0x{rawEnd - end:x} bytes above the image's end");
        return (nint)(start - plan.StartAddress);
    }

    private void Trim(nint address, ulong length, string reason)
    {
        var step = new MappingStep(MappingStepKind.Trim, address, length, MemoryProtection.None, MappingFlags.None, null, reason);
        _options.BeforeStep?.Invoke(step);
        if (!Mmap.Unmap(address, length, out int errno))
            Failed(step, "munmap", errno);
        if (address == _reservationStart)
            _reservationStart = (nint)((ulong)address + length);
        _reservationLength -= length;
        Record(step);
    }

    private void OverlaySegment(SegmentOverlay overlay, FileDescriptor fd, nint bias)
    {
        if (overlay.Length == 0)
            return; // no file bytes: the whole segment is anonymous .bss
        nint address = (nint)((ulong)bias + overlay.Address);
        var step = new MappingStep(MappingStepKind.Overlay, address, overlay.Length, overlay.Protection,
            MappingFlags.Private | MappingFlags.Fixed, overlay.FileOffset,
            string.Create(CultureInfo.InvariantCulture, $"overlay {overlay.Name} ({overlay.Content.Describe()}) at base+0x{overlay.Address:x}"));
        _options.BeforeStep?.Invoke(step);
        nint result = Mmap.Map(address, overlay.Length, (Prot)overlay.Protection, MapFlags.MAP_PRIVATE | MapFlags.MAP_FIXED,
            fd, overlay.FileOffset, out int errno);
        if (result == Mmap.MAP_FAILED)
            Failed(step, "mmap", errno);
        Record(step);
    }

    /// <summary>Zero the rest of the last file page after p_filesz (it holds whatever follows in the file), then map
    /// anonymous zero pages for the remainder of p_memsz (bionic's <c>ZeroFillBss</c> and <c>MapBssSection</c>).</summary>
    private void MapBss(BssPlan bss, nint bias, ImageMemory memory)
    {
        if (bss.ZeroFillLength > 0)
        {
            nint page = (nint)((ulong)bias + LoadPlan.PageDown(bss.ZeroFillAddress, _page));
            string segment = $"PT_LOAD[{bss.ProgramHeaderIndex}]";
            if (bss.ZeroFillNeedsUnprotect)
                Protect(MappingStepKind.UnprotectForZeroing, page, _page, MemoryProtection.Read | MemoryProtection.Write,
                    $"make {segment}'s last file page read-write (not executable) to zero its .bss tail");
            nint zero = (nint)((ulong)bias + bss.ZeroFillAddress);
            var step = new MappingStep(MappingStepKind.ZeroFill, zero, bss.ZeroFillLength, MemoryProtection.None, MappingFlags.None, null,
                $"zero the .bss tail of {segment}'s last file page at base+0x{bss.ZeroFillAddress:x}");
            _options.BeforeStep?.Invoke(step);
            memory.Clear(zero, bss.ZeroFillLength);
            Record(step);
            if (bss.ZeroFillNeedsUnprotect)
                Protect(MappingStepKind.RestoreProtection, page, _page, bss.Protection,
                    $"restore {segment}'s last file page to {bss.Protection.ToMapsString()}");
        }
        if (bss.AnonymousLength > 0)
        {
            nint address = (nint)((ulong)bias + bss.AnonymousAddress);
            var step = new MappingStep(MappingStepKind.MapBss, address, bss.AnonymousLength, bss.Protection,
                MappingFlags.Private | MappingFlags.Fixed | MappingFlags.Anonymous, null,
                $"map anonymous zero pages for PT_LOAD[{bss.ProgramHeaderIndex}]'s .bss at base+0x{bss.AnonymousAddress:x}");
            _options.BeforeStep?.Invoke(step);
            nint result = Mmap.Map(address, bss.AnonymousLength, (Prot)bss.Protection,
                MapFlags.MAP_PRIVATE | MapFlags.MAP_FIXED | MapFlags.MAP_ANONYMOUS, -1, 0, out int errno);
            if (result == Mmap.MAP_FAILED)
                Failed(step, "mmap", errno);
            Record(step);
        }
    }

    private void Protect(MappingStepKind kind, nint address, ulong length, MemoryProtection protection, string reason)
    {
        var step = new MappingStep(kind, address, length, protection, MappingFlags.None, null, reason);
        _options.BeforeStep?.Invoke(step);
        if (!Mmap.Protect(address, length, (Prot)protection, out int errno))
            Failed(step, "mprotect", errno);
        Record(step);
    }

    /// <summary>mprotect PT_GNU_RELRO's whole pages read-only. Shared with <see cref="ElfImage.ApplyRelro"/>.</summary>
    internal static void ProtectRelro(LoadPlan plan, nint bias, string name, Action<MappingStep> record, Action<MappingStep>? before)
    {
        if (plan.Relro is not { Length: > 0 } relro)
            return;
        nint address = (nint)((ulong)bias + relro.Address);
        var step = new MappingStep(MappingStepKind.ProtectRelro, address, relro.Length, MemoryProtection.Read, MappingFlags.None, null,
            $"make PT_GNU_RELRO read-only at base+0x{relro.Address:x}");
        before?.Invoke(step);
        if (!Mmap.Protect(address, relro.Length, Prot.PROT_READ, out int errno))
            ThrowHelper.ImageLoad(name, "mprotect", errno, $"{name}: {step} failed: {Errno.Describe(errno)}");
        record(step);
    }

    /// <summary>Unmap whatever of the reservation exists and the header view; the descriptor is closed by the caller.</summary>
    private void RollBack(FileView? view)
    {
        view?.Unmap(out _);
        if (_reservationLength == 0)
            return;
        if (Mmap.Unmap(_reservationStart, _reservationLength, out _))
            Record(new MappingStep(MappingStepKind.Unmap, _reservationStart, _reservationLength, MemoryProtection.None,
                MappingFlags.None, null, "roll back: unmap the whole reservation after a failure"));
        _reservationLength = 0;
    }

    private void Record(MappingStep step)
    {
        lock (_steps)
            _steps.Add(step);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void Failed(MappingStep step, string call, int errno) =>
        ThrowHelper.ImageLoad(_name, call, errno, $"{_name}: {step} failed: {Errno.Describe(errno)}");
}
