using System.Buffers.Binary;
using Loader.Elf;
using Loader.Native;
using static Loader.Mapping.PointerEncoding;

namespace Loader.Mapping;

/// <summary>
/// Finds an image's <c>.eh_frame</c> and checks that libgcc can walk it: the start comes from
/// <c>PT_GNU_EH_FRAME</c>'s <c>eh_frame_ptr</c>, as libgcc's own <c>dl_iterate_phdr</c> callback finds it
/// (unwind-dw2-fde-dip.c), since a loader cannot rely on section headers; the entries must stay inside their PT_LOAD
/// and end with a zero terminator, and each must be one libgcc can read when it sorts the table
/// (<see cref="UnwindEntryCheck"/>), or libgcc's walk (<c>next_fde</c>, at the first unwind anywhere after
/// registration) could read past the image or abort, and stop the process. Used by the registry after relocation,
/// and by the mapper before relocation: in a copy of the file's bytes (<see cref="CopyWindow"/>,
/// <see cref="UnwindTableBytes"/>), which touches no page of the image, or in its longer first overlay
/// (<see cref="FirstOverlayExtension"/>), so that the pages the walk reads leave the process again with no system call
/// of their own.
/// </summary>
internal static class UnwindTableCheck
{
    /// <summary>DW_EH_PE_pcrel | DW_EH_PE_sdata4: the FDE address encoding gcc and clang write.</summary>
    private const int PcRelSdata4 = PcRel | Sdata4;

    /// <summary>What the walk answers for a table whose first entry is the terminator: nothing to register.</summary>
    private const long Empty = -1;

    /// <summary>What the walk answers for a table libgcc could not walk: not registered.</summary>
    private const long Refused = -2;

    /// <summary>The 32-bit length that announces a 64-bit one; libgcc's FDE walker (<c>next_fde</c>) reads only 32.</summary>
    private const uint ExtendedLength = 0xffff_ffff;

    /// <summary>
    /// The link-time address of the image's <c>.eh_frame</c> and the address just past the terminator the check read;
    /// null when there is nothing to register (no PT_GNU_EH_FRAME, an empty table, or one libgcc would walk past its
    /// segment: the library still loads, as under glibc, and an exception cannot unwind through it).
    /// </summary>
    /// <remarks><paramref name="onlySegmentEndingAt"/>: 0 to read any readable PT_LOAD; otherwise only the one whose
    /// file pages end at this address — the table's own PT_LOAD, which the mapper's extended first overlay still shows
    /// when the check runs, and whose overlay replaces the pages the walk read.</remarks>
    /// <exception cref="ElfFormatException">The header is malformed: registering it could send libgcc reading past the image.</exception>
    public static (ulong Start, ulong WalkedEnd)? Find(string path, IReadOnlyList<ProgramHeader> headers, LoadPlan plan,
        ImageMemory memory, nint bias, ulong onlySegmentEndingAt = 0) =>
        Find(path, headers, plan, new UnwindTableBytes(memory, bias), bias, out _, onlySegmentEndingAt);

    /// <summary><see cref="Find(string, IReadOnlyList{ProgramHeader}, LoadPlan, ImageMemory, nint, ulong)"/>, and
    /// whether a null answer is a refusal (a table libgcc could not walk) rather than nothing to register.</summary>
    public static (ulong Start, ulong WalkedEnd)? Find(string path, IReadOnlyList<ProgramHeader> headers, LoadPlan plan,
        ImageMemory memory, nint bias, out bool refused, ulong onlySegmentEndingAt = 0) =>
        Find(path, headers, plan, new UnwindTableBytes(memory, bias), bias, out refused, onlySegmentEndingAt);

    /// <summary><see cref="Find(string, IReadOnlyList{ProgramHeader}, LoadPlan, ImageMemory, nint, out bool, ulong)"/>
    /// on the table's bytes wherever <paramref name="bytes"/> holds them (the image mapped at <paramref name="bias"/>,
    /// or a copy of the file's); the addresses it checks are the image's at <paramref name="bias"/>.</summary>
    public static (ulong Start, ulong WalkedEnd)? Find(string path, IReadOnlyList<ProgramHeader> headers, LoadPlan plan,
        scoped in UnwindTableBytes bytes, nint bias, out bool refused, ulong onlySegmentEndingAt = 0)
    {
        refused = false;
        if (EhFrameHeader(headers) is not { } hdr)
            return null;

        // version (1), eh_frame_ptr_enc, fde_count_enc, table_enc, then the encoded eh_frame_ptr.
        if (hdr.MemorySize < 4)
            ThrowHelper.Format(path, "PT_GNU_EH_FRAME", hdr.Offset, $"p_memsz 0x{hdr.MemorySize:x} is too small for an .eh_frame_hdr (4 bytes before eh_frame_ptr)");
        if (ReadableSegment(plan, hdr.VirtualAddress, 4, onlySegmentEndingAt) is null)
            ThrowHelper.Format(path, "PT_GNU_EH_FRAME", hdr.Offset, $".eh_frame_hdr at 0x{hdr.VirtualAddress:x} does not lie inside a readable PT_LOAD");
        var head = bytes.Read(path, hdr.VirtualAddress, 4);
        if (head[0] != 1)
            ThrowHelper.Format(path, ".eh_frame_hdr version", hdr.Offset, $"{head[0]}, expected 1");
        byte encoding = head[1];
        int size = PointerSize(encoding);
        if (size == 0)
            ThrowHelper.Format(path, ".eh_frame_hdr eh_frame_ptr_enc", hdr.Offset + 1,
                $"0x{encoding:x2} is not a direct DW_EH_PE_absptr/pcrel/datarel pointer of 4 or 8 bytes (usually 0x1b, pcrel|sdata4)");
        ulong field = hdr.VirtualAddress + 4;
        if (hdr.MemorySize < 4 + (ulong)size || ReadableSegment(plan, field, (ulong)size, onlySegmentEndingAt) is null)
            ThrowHelper.Format(path, ".eh_frame_hdr eh_frame_ptr", hdr.Offset + 4,
                $"the {size}-byte value at 0x{field:x} does not fit in PT_GNU_EH_FRAME (p_memsz 0x{hdr.MemorySize:x}) or a readable PT_LOAD");
        long value = (long)PointerEncoding.Read(bytes.Read(path, field, size), encoding);
        ulong target = (encoding & ApplicationMask) switch
        {
            PcRel => field + (ulong)value,
            DataRel => hdr.VirtualAddress + (ulong)value, // relative to the start of .eh_frame_hdr (LSB)
            _ => (ulong)value, // absptr: ld writes the link-time address; the header is never relocated
        };
        var segment = ReadableSegment(plan, target, 4, onlySegmentEndingAt)
            ?? ThrowHelper.Format<SegmentOverlay>(path, ".eh_frame_hdr eh_frame_ptr", hdr.Offset + 4,
                $".eh_frame at 0x{target:x} does not lie inside a readable PT_LOAD");
        long walked = CheckEntries(path, bytes, bias, segment, target, plan);
        refused = walked == Refused;
        return walked < 0 ? null : (target, target + (ulong)walked);
    }

    /// <summary>
    /// Where the mapper's first overlay may end so that the check can read <c>.eh_frame_hdr</c>'s PT_LOAD through it
    /// before that PT_LOAD's own overlay replaces those pages (a MAP_FIXED mapping drops what it replaces: the walk's
    /// pages leave the process without a madvise): the end of that PT_LOAD's file pages, or 0 when the layout does not
    /// allow it. It does when the segment is a later, read-only PT_LOAD without .bss, mapped at the same file offset
    /// as the first (its bytes then appear at their own addresses in the longer first mapping: ld's usual layout), and
    /// the overlays between them leave no page of the longer mapping uncovered — and when the first PT_LOAD is readable
    /// and not writable, as the longer mapping takes its protection (a first PT_LOAD with p_flags 0 would map the table
    /// PROT_NONE, and the walk would fault).
    /// </summary>
    public static ulong FirstOverlayExtension(LoadPlan plan, IReadOnlyList<ProgramHeader> headers)
    {
        var overlays = plan.OverlaySpan;
        if (EhFrameHeader(headers) is not { } hdr || overlays.Length < 2 || overlays[0].Length == 0
            || (overlays[0].Protection & MemoryProtection.Read) == 0 || (overlays[0].Protection & MemoryProtection.Write) != 0)
            return 0;
        var first = overlays[0];
        ulong covered = first.Address + first.Length;
        for (int i = 1; i < overlays.Length; i++)
        {
            var o = overlays[i];
            if (o.Address != covered || o.Length == 0)
                return 0; // a gap or a segment without file pages: the longer mapping would stay visible there
            covered = o.Address + o.Length;
            if (hdr.VirtualAddress < o.VirtualAddress || hdr.VirtualAddress - o.VirtualAddress >= o.FileSize)
                continue;
            return IsReadOnlyFilePages(o) && o.FileOffset - o.Address == first.FileOffset - first.Address ? covered : 0;
        }
        return 0;
    }

    /// <summary>
    /// The file bytes the mapper reads (one pread) to check the table without touching a page of the image: from
    /// <c>.eh_frame_hdr</c> to the end of the last page of the PT_LOAD that holds it (<c>Segment</c>; what the walk may
    /// read), when that PT_LOAD is read-only file pages (what libgcc reads later is then the file's bytes, as the copy
    /// is) and the bytes are at most <paramref name="limit"/>. <c>FileBytes</c> is how many of them are the PT_LOAD's
    /// own; the rest of its last page is the file's, or zeros past its end. Null when it does not apply: the mapper then
    /// walks the table in its longer first overlay's pages, which the table's own overlay replaces, or the registry in
    /// the mapped image.
    /// </summary>
    public static (ulong Address, ulong FileOffset, int Length, int FileBytes, SegmentOverlay Segment)? CopyWindow(
        LoadPlan plan, IReadOnlyList<ProgramHeader> headers, int limit)
    {
        if (EhFrameHeader(headers) is not { } hdr || ReadableSegment(plan, hdr.VirtualAddress, 4) is not { } o || !IsReadOnlyFilePages(o))
            return null;
        ulong end = o.Address + o.Length;
        if (end - hdr.VirtualAddress > (ulong)limit)
            return null;
        return (hdr.VirtualAddress, o.Offset + (hdr.VirtualAddress - o.VirtualAddress), (int)(end - hdr.VirtualAddress),
            (int)(o.VirtualAddress + o.FileSize - hdr.VirtualAddress), o);
    }

    /// <summary>Whether the first overlay, extended to <paramref name="extendedEnd"/> (<see cref="FirstOverlayExtension"/>),
    /// maps <paramref name="segment"/> exactly as its own overlay would: it reaches through it (at the same file offsets,
    /// as the extension requires), with the same protection — so that overlay need not be made.</summary>
    public static bool FirstOverlayMaps(LoadPlan plan, ulong extendedEnd, in SegmentOverlay segment) =>
        extendedEnd != 0 && segment.Address + segment.Length == extendedEnd && segment.Protection == plan.OverlaySpan[0].Protection;

    /// <summary>PT_GNU_EH_FRAME: the last one, as libgcc's dl_iterate_phdr callback takes it; null when there is none.</summary>
    public static ProgramHeader? EhFrameHeader(IReadOnlyList<ProgramHeader> headers)
    {
        ProgramHeader? found = null;
        for (int i = 0; i < headers.Count; i++)
            if (headers[i] is { Type: SegmentType.GnuEhFrame } ph)
                found = ph;
        return found;
    }

    private static bool IsReadOnlyFilePages(in SegmentOverlay o) =>
        (o.Protection & MemoryProtection.Write) == 0 && (o.Protection & MemoryProtection.Read) != 0
        && o.FileSize == o.MemorySize;

    /// <summary>
    /// Walks the CIEs and FDEs from <paramref name="start"/> as libgcc will (a 4-byte length, then that many bytes) up
    /// to the zero-length terminator: the bytes walked when it finds one before it would leave the PT_LOAD — or right after the
    /// segment's last entry, in the rest of its last page (libunwind.so.8 ends its .eh_frame at the segment's end,
    /// and the file's padding after it reads as the terminator). <see cref="Empty"/> when the first entry is the
    /// terminator, <see cref="Refused"/> when libgcc would walk on past the segment or could not read an entry: then
    /// nothing is registered.
    /// </summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the buffers are read only as far as they were filled
    private static long CheckEntries(string path, scoped in UnwindTableBytes table, nint bias, SegmentOverlay segment, ulong start, LoadPlan plan)
    {
        ulong end = segment.VirtualAddress + segment.MemorySize;
        var bytes = table.Read(path, start, (int)Math.Min(segment.MemoryEnd - start, int.MaxValue)); // with the page tail
        long limit = Math.Min((long)(end - start), bytes.Length); // a segment past 2 GB is read no further than its first 2 GB
        var entries = new UnwindEntryCheck(stackalloc long[16], stackalloc int[16], start);
        // The image's executable segments where they are mapped: what an FDE may describe.
        Span<CodeRange> codeBuffer = stackalloc CodeRange[8];
        var code = CodeRanges(plan, bias, codeBuffer);
        ulong tableAddress = (ulong)bias + start;
        long lastCie = -1; // the CIE the last FDE named, its FDEs' encoding and least length
        int encoding = -1;
        long minimumFde = int.MaxValue;
        // The code the pcrel|sdata4 FDEs describe, all of it.
        var described = new Native.UnwindFdeRun.Described { Lowest = ulong.MaxValue };
        int position = 0;
        while (position + 4 <= bytes.Length)
        {
            if (encoding == PcRelSdata4 && code.Length == 1)
            {
                // The common run (FDEs of the last CIE, gcc's encoding) in one tight loop; it stops at any other entry.
                position = Native.UnwindFdeRun.Walk(bytes, position, limit, lastCie, (int)minimumFde, tableAddress, ref described);
                if (position + 4 > bytes.Length)
                    break;
            }
            // Each length is read before the next entry's address is known: ask for the lines 1 KB ahead meanwhile
            // (libpython's walk covers 342 KB; a per cent or two of its load and libcrypto's, docs/benchmarks.md).
            Native.CachePrefetch.Line(bytes, (ulong)position + 1024);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[position..]);
            if (length == 0)
            {
                if (described.Gathered && (described.Wrapped || described.Lowest < code[0].Start || described.Highest > code[0].End))
                    return Refused; // an FDE describes code outside the image's executable segment
                return position > 0 ? position + 4 : Empty;
            }
            if (position >= limit || length == ExtendedLength || length < 4 || position + 4 + (long)length > limit)
                return Refused; // not an entry libgcc could walk, inside the segment
            // What libgcc reads of the entry when it sorts and searches the table (UnwindEntryCheck): a CIE's FDE
            // encoding; an FDE's CIE, wherever its pointer leads, and its pc_begin and pc_range in that CIE's encoding.
            uint cieDelta = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(position + 4)..]);
            if (cieDelta == 0)
            {
                entries.AddCie(position, bytes.Slice(position + 4, (int)length));
            }
            else
            {
                long cie = position + 4 - (long)cieDelta;
                if (cie != lastCie)
                {
                    encoding = entries.FdeEncodingOf(cie);
                    minimumFde = encoding < 0 ? int.MaxValue : UnwindEntryCheck.MinimumFdeLength(encoding);
                    lastCie = cie;
                }
                if (length < minimumFde)
                    return Refused;
                ulong fieldAddress = tableAddress + (ulong)position + 8;
                if (encoding == PcRelSdata4 && code.Length == 1)
                {
                    // gcc's and clang's encoding, with one executable segment: the FDEs' code is gathered here and
                    // checked against the segment once, at the terminator (pc_begin, then pc_range, sign-extended).
                    long fields = BinaryPrimitives.ReadInt64LittleEndian(bytes[(position + 8)..]);
                    if ((int)fields != 0) // libgcc skips an FDE whose pc_begin is 0
                    {
                        ulong begin = fieldAddress + (ulong)(long)(int)fields;
                        ulong rangeEnd = begin + (ulong)(fields >> 32);
                        described.Lowest = Math.Min(described.Lowest, begin);
                        described.Highest = Math.Max(described.Highest, rangeEnd);
                        described.Wrapped |= rangeEnd < begin;
                        described.Gathered = true;
                    }
                }
                else if (!UnwindEntryCheck.DescribesOnly(bytes.Slice(position + 8, (int)length - 4), fieldAddress, encoding, code))
                {
                    return Refused;
                }
            }
            position += 4 + (int)length;
        }
        return Refused;
    }

    /// <summary>The executable PT_LOADs of <paramref name="plan"/> mapped at <paramref name="bias"/>, in
    /// <paramref name="buffer"/> (more than it holds: the first that fit, so a later one's code is refused).</summary>
    private static ReadOnlySpan<CodeRange> CodeRanges(LoadPlan plan, nint bias, Span<CodeRange> buffer)
    {
        int count = 0;
        foreach (var o in plan.OverlaySpan)
        {
            if ((o.Protection & MemoryProtection.Execute) == 0 || count == buffer.Length)
                continue;
            ulong start = (ulong)bias + o.VirtualAddress;
            buffer[count++] = new CodeRange(start, start + o.MemorySize);
        }
        return buffer[..count];
    }

    /// <summary>The byte size of a direct absptr, pcrel or datarel pointer encoding; 0 for anything else.</summary>
    private static int PointerSize(byte encoding)
    {
        if (encoding == Omit || (encoding & Indirect) != 0)
            return 0;
        if ((encoding & ApplicationMask) is not (Absptr or PcRel or DataRel))
            return 0;
        return FixedSize(encoding) is 4 or 8 ? FixedSize(encoding) : 0;
    }

    /// <summary>
    /// The readable PT_LOAD whose <c>[p_vaddr, p_vaddr + p_memsz)</c> holds the whole range, or null. With
    /// <paramref name="onlySegmentEndingAt"/>, only the one whose file pages end there (a read-only file-backed one, by
    /// <see cref="FirstOverlayExtension"/>).
    /// </summary>
    public static SegmentOverlay? ReadableSegment(LoadPlan plan, ulong address, ulong length, ulong onlySegmentEndingAt = 0)
    {
        var overlays = plan.OverlaySpan;
        for (int i = 0; i < overlays.Length; i++)
        {
            var o = overlays[i];
            if ((o.Protection & MemoryProtection.Read) == 0 || address < o.VirtualAddress
                || ThrowHelper.OutOfRange(address - o.VirtualAddress, length, o.MemorySize))
                continue;
            if (onlySegmentEndingAt != 0 && (o.Address + o.Length != onlySegmentEndingAt || !IsReadOnlyFilePages(o)))
                return null;
            return o;
        }
        return null;
    }
}
