using System.Buffers.Binary;
using Loader.Elf;
using Loader.Mapping;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// Makes an image's unwind tables visible to the host's libgcc, so a C++ exception, <c>backtrace</c> or
/// <c>_Unwind_Backtrace</c> can walk through code Loader mapped. libgcc finds frames through <c>dl_iterate_phdr</c>,
/// which lists only glibc's modules; the other door it has is <c>__register_frame</c> (docs/architecture.md, "Living
/// beside glibc"). The start of <c>.eh_frame</c> comes from <c>PT_GNU_EH_FRAME</c>'s <c>eh_frame_ptr</c>, as libgcc's
/// own <c>dl_iterate_phdr</c> callback finds it (unwind-dw2-fde-dip.c), since a loader cannot rely on section headers.
/// Registered after relocation (personality and LSDA pointers are relocated data) and before any initializer runs;
/// deregistered exactly once, with the same address, after the finalizers and before the image is unmapped.
/// </summary>
internal static class UnwindRegistry
{
    // DW_EH_PE_* (LSB, "DWARF Extensions"): the low nibble is the value's format, bits 4-6 what it is relative to.
    private const byte EncodingOmit = 0xff;
    private const byte FormatMask = 0x0f, ApplicationMask = 0x70, Indirect = 0x80;
    private const byte Absptr = 0x00, Udata4 = 0x03, Udata8 = 0x04, Sdata4 = 0x0b, Sdata8 = 0x0c;
    private const byte PcRel = 0x10, DataRel = 0x30;

    /// <summary>The 32-bit length that announces a 64-bit one; libgcc's FDE walker (<c>next_fde</c>) reads only 32.</summary>
    private const uint ExtendedLength = 0xffff_ffff;

    /// <summary>
    /// Registers the module's <c>.eh_frame</c> with libgcc and records the address on the module. Nothing for a host
    /// module, a module already registered, a library without <c>PT_GNU_EH_FRAME</c>, or an empty <c>.eh_frame</c>
    /// (libgcc's <c>__register_frame</c> would skip it too).
    /// </summary>
    /// <exception cref="ElfFormatException">The header or the table is malformed: registering it could send libgcc
    /// reading past the image.</exception>
    public static void Register(Module module)
    {
        if (module.Image is not { } image || module.RegisteredEhFrame is not null)
            return;
        if (FindEhFrame(image, out ulong walkedEnd) is not { } address)
            return;
        nint ehFrame = (nint)((ulong)image.BaseAddress + address);
        FrameRegistration.Register(ehFrame);
        module.RegisteredEhFrame = ehFrame;
        ReleaseWalkedPages(image, address, walkedEnd);
    }

    /// <summary>
    /// The check walked every entry of <c>.eh_frame</c>, which made each of its pages resident — often the largest
    /// read-only table of a library, and one glibc's loader never touches (libgcc 12's <c>__register_frame</c> reads
    /// only its first word; the entries are read at the first unwind that needs them). Those pages were only read,
    /// so they are dropped again and come back from the file if an unwind ever reads them
    /// (docs/benchmarks.md, "Memory held"). Only in a read-only PT_LOAD of an image without text relocations, and
    /// only whole file pages before any <c>.bss</c> tail the mapper zeroed: nothing written is ever dropped.
    /// </summary>
    private static void ReleaseWalkedPages(ElfImage image, ulong start, ulong end)
    {
        if (ReadableSegment(image, start, 4) is not { } segment || (segment.Protection & MemoryProtection.Write) != 0)
            return;
        var dynamic = image.Dynamic;
        if (dynamic is not null && (dynamic.Has(DynamicTag.TextRel) || (dynamic.Flags & DynamicFlags.TextRel) != 0))
            return;
        ulong page = (ulong)Environment.SystemPageSize;
        var ph = segment.Header;
        ulong fileEnd = ph.VirtualAddress + ph.FileSize;
        ulong last = ph.MemorySize > ph.FileSize ? fileEnd & ~(page - 1) : (fileEnd + page - 1) & ~(page - 1);
        ulong from = start & ~(page - 1), to = Math.Min((end + page - 1) & ~(page - 1), last);
        if (to > from)
            Mmap.DropUnwrittenPages((nint)((ulong)image.BaseAddress + from), to - from, out _); // advice only: a failure costs memory, not correctness
    }

    /// <summary>Takes off what <see cref="Register"/> registered, once: the record is cleared before the call.</summary>
    public static void Deregister(Module module)
    {
        if (module.RegisteredEhFrame is not { } ehFrame)
            return;
        module.RegisteredEhFrame = null;
        FrameRegistration.Deregister(ehFrame);
    }

    /// <summary>
    /// The link-time address of the image's <c>.eh_frame</c>, after checking that its entries stay inside their
    /// PT_LOAD and end with a zero terminator; null when there is nothing to register. <paramref name="walkedEnd"/>:
    /// the link-time address just past the terminator the check read.
    /// </summary>
    private static ulong? FindEhFrame(ElfImage image, out ulong walkedEnd)
    {
        walkedEnd = 0;
        ProgramHeader? found = null;
        var headers = image.ProgramHeaders;
        for (int i = 0; i < headers.Count; i++)
        {
            if (headers[i] is { Type: SegmentType.GnuEhFrame } ph)
                found = ph; // the last one, as libgcc's dl_iterate_phdr callback takes it
        }
        if (found is not { } hdr)
            return null;

        string path = image.Path;
        // version (1), eh_frame_ptr_enc, fde_count_enc, table_enc, then the encoded eh_frame_ptr.
        if (hdr.MemorySize < 4)
            ThrowHelper.Format(path, "PT_GNU_EH_FRAME", hdr.Offset, $"p_memsz 0x{hdr.MemorySize:x} is too small for an .eh_frame_hdr (4 bytes before eh_frame_ptr)");
        if (ReadableSegment(image, hdr.VirtualAddress, 4) is null)
            ThrowHelper.Format(path, "PT_GNU_EH_FRAME", hdr.Offset, $".eh_frame_hdr at 0x{hdr.VirtualAddress:x} does not lie inside a readable PT_LOAD");
        var head = image.GetBytes(hdr.VirtualAddress, 4);
        if (head[0] != 1)
            ThrowHelper.Format(path, ".eh_frame_hdr version", hdr.Offset, $"{head[0]}, expected 1");
        byte encoding = head[1];
        int size = PointerSize(encoding);
        if (size == 0)
            ThrowHelper.Format(path, ".eh_frame_hdr eh_frame_ptr_enc", hdr.Offset + 1,
                $"0x{encoding:x2} is not a direct DW_EH_PE_absptr/pcrel/datarel pointer of 4 or 8 bytes (usually 0x1b, pcrel|sdata4)");
        ulong field = hdr.VirtualAddress + 4;
        if (hdr.MemorySize < 4 + (ulong)size || ReadableSegment(image, field, (ulong)size) is null)
            ThrowHelper.Format(path, ".eh_frame_hdr eh_frame_ptr", hdr.Offset + 4,
                $"the {size}-byte value at 0x{field:x} does not fit in PT_GNU_EH_FRAME (p_memsz 0x{hdr.MemorySize:x}) or a readable PT_LOAD");
        long value = ReadValue(image.GetBytes(field, size), encoding);
        ulong target = (encoding & ApplicationMask) switch
        {
            PcRel => field + (ulong)value,
            DataRel => hdr.VirtualAddress + (ulong)value, // relative to the start of .eh_frame_hdr (LSB)
            _ => (ulong)value, // absptr: ld writes the link-time address; the header is never relocated
        };
        var segment = ReadableSegment(image, target, 4)
            ?? ThrowHelper.Format<SegmentOverlay>(path, ".eh_frame_hdr eh_frame_ptr", hdr.Offset + 4,
                $".eh_frame at 0x{target:x} does not lie inside a readable PT_LOAD");
        long walked = CheckEntries(image, segment, target);
        if (walked < 0)
            return null;
        walkedEnd = target + (ulong)walked;
        return target;
    }

    /// <summary>
    /// Walks the CIEs and FDEs from <paramref name="start"/> as libgcc will (a 4-byte length, then that many bytes) up
    /// to the zero-length terminator: the bytes walked when it finds one before it would leave the PT_LOAD — or right after the
    /// segment's last entry, in the rest of its last page (libunwind.so.8 ends its .eh_frame at the segment's end,
    /// and the file's padding after it reads as the terminator). -1 when the first entry is the terminator, and
    /// when libgcc would walk on past the segment: then nothing is registered (the library still loads, as under
    /// glibc; an exception cannot unwind through it), since handing libgcc that table could crash the process.
    /// </summary>
    /// <returns>The number of bytes walked, the terminator included; -1 for nothing to register.</returns>
    private static long CheckEntries(ElfImage image, SegmentOverlay segment, ulong start)
    {
        ulong end = segment.Header.VirtualAddress + segment.Header.MemorySize;
        var bytes = image.GetBytes(start, (int)Math.Min(segment.MemoryEnd - start, int.MaxValue)); // with the page tail
        long limit = (long)(end - start);
        int position = 0;
        while (position + 4 <= bytes.Length)
        {
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[position..]);
            if (length == 0)
                return position > 0 ? position + 4 : -1;
            if (position >= limit || length == ExtendedLength || length < 4 || position + 4 + (long)length > limit)
                return -1; // not an entry libgcc could walk, inside the segment
            position += 4 + (int)length;
        }
        return -1;
    }

    /// <summary>The byte size of a direct absptr, pcrel or datarel pointer encoding; 0 for anything else.</summary>
    private static int PointerSize(byte encoding)
    {
        if (encoding == EncodingOmit || (encoding & Indirect) != 0)
            return 0;
        if ((encoding & ApplicationMask) is not (Absptr or PcRel or DataRel))
            return 0;
        return (encoding & FormatMask) switch
        {
            Absptr or Udata8 or Sdata8 => 8,
            Udata4 or Sdata4 => 4,
            _ => 0,
        };
    }

    private static long ReadValue(ReadOnlySpan<byte> bytes, byte encoding) => (encoding & FormatMask) switch
    {
        Udata4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
        Sdata4 => BinaryPrimitives.ReadInt32LittleEndian(bytes),
        _ => BinaryPrimitives.ReadInt64LittleEndian(bytes),
    };

    /// <summary>The readable PT_LOAD whose <c>[p_vaddr, p_vaddr + p_memsz)</c> holds the whole range, or null.</summary>
    private static SegmentOverlay? ReadableSegment(ElfImage image, ulong address, ulong length)
    {
        var overlays = image.Plan.Overlays;
        for (int i = 0; i < overlays.Count; i++)
        {
            var o = overlays[i];
            var ph = o.Header;
            if ((o.Protection & MemoryProtection.Read) != 0 && address >= ph.VirtualAddress
                && !ThrowHelper.OutOfRange(address - ph.VirtualAddress, length, ph.MemorySize))
                return o;
        }
        return null;
    }
}
