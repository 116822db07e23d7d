namespace Loader.Mapping;

/// <summary>
/// The steps that mapping a plan makes, in order, made in one place for the two that need them: the
/// <see cref="Mapper"/>, which makes each one's system call as it goes, and <see cref="ElfImage.MappingSteps"/>, which
/// lists them again when asked. Every step is a function of the plan, the address the kernel gave the reservation and
/// how far the first overlay reached, so an image keeps those two numbers instead of a list of steps
/// (docs/benchmarks.md, "Memory held"). <c>MappingScriptTests</c> checks the list against the steps made, one by one.
/// </summary>
internal static class MappingScript
{
    /// <summary>Room for the steps of one <see cref="BssPlan"/> (unprotect, zero, restore, map) or the trims, on the stack.</summary>
    [System.Runtime.CompilerServices.InlineArray(4)]
    public struct StepBuffer
    {
        private MappingStep _first;
    }

    /// <summary>The reservation's length: the plan's span, plus what aligning the base to p_align needs.</summary>
    public static ulong ReservationLength(LoadPlan plan, ulong page) =>
        plan.Size + (plan.Alignment > page ? plan.Alignment - page : 0);

    /// <summary>The PROT_NONE reservation, at <paramref name="address"/> (0 before the kernel has answered).</summary>
    public static MappingStep Reserve(LoadPlan plan, ulong page, nint address)
    {
        ulong length = ReservationLength(plan, page);
        var flags = MappingFlags.Private | MappingFlags.Anonymous | MappingFlags.NoReserve;
        return plan.Alignment > page
            ? new MappingStep(MappingStepKind.Reserve, address, length, MemoryProtection.None, flags, null,
                $"reserve the image's span 0x{plan.Size:x} plus 0x{plan.Alignment - page:x} to align the base to 0x{plan.Alignment:x}")
            : new MappingStep(MappingStepKind.Reserve, address, length, MemoryProtection.None, flags, null,
                "reserve the image's span 0x{0:x}", plan.Size);
    }

    /// <summary>The first address of the image's span inside a reservation the kernel put at <paramref name="raw"/>:
    /// the bias must be a multiple of the alignment, so the span starts at StartAddress modulo it.</summary>
    public static ulong SpanStart(LoadPlan plan, nint raw)
    {
        ulong align = plan.Alignment;
        ulong skew = plan.StartAddress % align;
        return ((ulong)raw - skew + align - 1) / align * align + skew;
    }

    /// <summary>The munmaps that trim an over-sized reservation at <paramref name="raw"/> to the span (none when the
    /// alignment is a page); returns how many were written into <paramref name="into"/> (at most 2).</summary>
    public static int Trims(LoadPlan plan, ulong page, nint raw, Span<MappingStep> into)
    {
        ulong start = SpanStart(plan, raw);
        ulong end = start + plan.Size, rawEnd = (ulong)raw + ReservationLength(plan, page);
        int n = 0;
        if (start > (ulong)raw)
            into[n++] = new MappingStep(MappingStepKind.Trim, raw, start - (ulong)raw, MemoryProtection.None, MappingFlags.None, null,
                $"trim 0x{start - (ulong)raw:x} bytes below the 0x{plan.Alignment:x}-aligned start");
        if (rawEnd > end)
            into[n++] = new MappingStep(MappingStepKind.Trim, (nint)end, rawEnd - end, MemoryProtection.None, MappingFlags.None, null,
                $"trim 0x{rawEnd - end:x} bytes above the image's end");
        return n;
    }

    /// <summary>
    /// Which overlay the mapper makes <paramref name="step"/>-th of <paramref name="count"/>: the plan's order, except
    /// that when the first overlay reaches through the unwind table's PT_LOAD (<paramref name="tableOverlay"/>, from
    /// <see cref="TableOverlay"/>) that PT_LOAD's own overlay comes last, after the table is walked. Then the walk's page
    /// faults fill page-table entries only where that one overlay replaces them, and the overlays before it replace
    /// pages nothing has touched: a MAP_FIXED mmap that drops present pages must flush them from the TLB of every CPU
    /// the process runs on (an IPI each), and in the plan's order the kernel's fault-around reached into the text
    /// overlay's range as well, which cost a second flush per load. With <paramref name="tableInFirst"/>, the longer
    /// first overlay stays the table's PT_LOAD's mapping (the table is read from a copy: <see cref="UnwindTableCheck.CopyWindow"/>),
    /// that PT_LOAD gets no overlay of its own, and there is one step fewer (<see cref="OverlaySteps"/>).
    /// </summary>
    public static int OverlayAt(int step, int count, int tableOverlay, bool tableInFirst) =>
        tableOverlay < 0 ? step
        : tableInFirst ? (step >= tableOverlay ? step + 1 : step)
        : step == count - 1 ? tableOverlay : step >= tableOverlay ? step + 1 : step;

    /// <summary>How many overlay steps <see cref="OverlayAt"/> numbers: one a PT_LOAD, but for the table's PT_LOAD when
    /// the first overlay maps it.</summary>
    public static int OverlaySteps(int count, int tableOverlay, bool tableInFirst) =>
        tableOverlay >= 0 && tableInFirst ? count - 1 : count;

    /// <summary>The index of the overlay whose file pages end at <paramref name="extendedEnd"/> — the unwind table's
    /// PT_LOAD, which the extended first overlay shows until its own overlay replaces it (never the first) — or -1
    /// when the first overlay is not extended. The mapper identifies the file and walks the table before that
    /// overlay, after all the others.</summary>
    public static int TableOverlay(LoadPlan plan, ulong extendedEnd)
    {
        if (extendedEnd == 0)
            return -1;
        var overlays = plan.OverlaySpan;
        for (int i = 1; i < overlays.Length; i++)
            if (overlays[i].Length != 0 && overlays[i].Address + overlays[i].Length == extendedEnd)
                return i;
        return -1;
    }

    /// <summary>
    /// Overlay <paramref name="index"/> of <paramref name="plan"/>: its file pages, mmap'ed MAP_FIXED over the
    /// reservation; null for a segment without file bytes. <paramref name="extendedEnd"/>: 0, or where the first
    /// overlay's mapping ends instead (through the unwind table's segment, <see cref="UnwindTableCheck.FirstOverlayExtension"/>;
    /// the other overlays replace the rest, the table's own last: <see cref="OverlayAt"/>; or, with
    /// <paramref name="tableInFirst"/>, all of them but the table's, which it maps). With
    /// <paramref name="prefault"/>, a writable overlay <see cref="WritablePrefault"/> takes is mapped with MAP_POPULATE.
    /// </summary>
    public static MappingStep? Overlay(LoadPlan plan, int index, nint bias, ulong extendedEnd, bool tableInFirst, bool prefault, ulong page)
    {
        ref readonly var overlay = ref plan.OverlaySpan[index];
        if (overlay.Length == 0)
            return null; // no file bytes: the whole segment is anonymous .bss
        nint address = (nint)((ulong)bias + overlay.Address);
        if (index == 0 && extendedEnd != 0 && tableInFirst)
            return new MappingStep(MappingStepKind.Overlay, address, extendedEnd - overlay.Address, overlay.Protection,
                MappingFlags.Private | MappingFlags.Fixed, overlay.FileOffset,
                "overlay PT_LOAD[{1}] ({2}) at base+0x{0:x}, with the file's pages after it through the unwind table's PT_LOAD (which it maps: the table is checked in a copy; the other overlays replace the pages between)",
                overlay.Address, (ulong)overlay.ProgramHeaderIndex, overlay.Content.Describe());
        if (index == 0 && extendedEnd != 0)
            return new MappingStep(MappingStepKind.Overlay, address, extendedEnd - overlay.Address, overlay.Protection,
                MappingFlags.Private | MappingFlags.Fixed, overlay.FileOffset,
                "overlay PT_LOAD[{1}] ({2}) at base+0x{0:x}, with the file's pages after it through the unwind table's PT_LOAD (checked there; the other overlays replace them, the table's last)",
                overlay.Address, (ulong)overlay.ProgramHeaderIndex, overlay.Content.Describe());
        bool populate = prefault && WritablePrefault.Applies(overlay, plan.Relro, page);
        return new MappingStep(MappingStepKind.Overlay, address, overlay.Length, overlay.Protection,
            populate ? MappingFlags.Private | MappingFlags.Fixed | MappingFlags.Populate : MappingFlags.Private | MappingFlags.Fixed,
            overlay.FileOffset,
            populate ? "overlay PT_LOAD[{1}] ({2}) at base+0x{0:x}, its pages copied now for the relocations to write" : "overlay PT_LOAD[{1}] ({2}) at base+0x{0:x}",
            overlay.Address, (ulong)overlay.ProgramHeaderIndex, overlay.Content.Describe());
    }

    /// <summary>
    /// A .bss: the rest of the last file page after p_filesz zeroed (it holds whatever follows in the file; made
    /// read-write for it, never executable, when the segment is not writable), then anonymous zero pages for the
    /// remainder of p_memsz (bionic's <c>ZeroFillBss</c> and <c>MapBssSection</c>). Returns how many steps were written.
    /// </summary>
    public static int Bss(in BssPlan bss, nint bias, ulong page, Span<MappingStep> into)
    {
        int n = 0;
        if (bss.ZeroFillLength > 0)
        {
            nint pageStart = (nint)((ulong)bias + LoadPlan.PageDown(bss.ZeroFillAddress, page));
            if (bss.ZeroFillNeedsUnprotect)
                into[n++] = new MappingStep(MappingStepKind.UnprotectForZeroing, pageStart, page, MemoryProtection.Read | MemoryProtection.Write,
                    MappingFlags.None, null, "make PT_LOAD[{1}]'s last file page read-write (not executable) to zero its .bss tail", 0, (ulong)bss.ProgramHeaderIndex);
            into[n++] = new MappingStep(MappingStepKind.ZeroFill, (nint)((ulong)bias + bss.ZeroFillAddress), bss.ZeroFillLength,
                MemoryProtection.None, MappingFlags.None, null,
                "zero the .bss tail of PT_LOAD[{1}]'s last file page at base+0x{0:x}", bss.ZeroFillAddress, (ulong)bss.ProgramHeaderIndex);
            if (bss.ZeroFillNeedsUnprotect)
                into[n++] = new MappingStep(MappingStepKind.RestoreProtection, pageStart, page, bss.Protection, MappingFlags.None, null,
                    "restore PT_LOAD[{1}]'s last file page to {2}", 0, (ulong)bss.ProgramHeaderIndex, bss.Protection.ToMapsString());
        }
        if (bss.AnonymousLength > 0)
            into[n++] = new MappingStep(MappingStepKind.MapBss, (nint)((ulong)bias + bss.AnonymousAddress), bss.AnonymousLength, bss.Protection,
                MappingFlags.Private | MappingFlags.Fixed | MappingFlags.Anonymous, null,
                "map anonymous zero pages for PT_LOAD[{1}]'s .bss at base+0x{0:x}", bss.AnonymousAddress, (ulong)bss.ProgramHeaderIndex);
        return n;
    }

    /// <summary>PT_GNU_RELRO's whole pages made read-only; null without RELRO (or when it covers no whole page).</summary>
    public static MappingStep? Relro(LoadPlan plan, nint bias) =>
        plan.Relro is { Length: > 0 } relro
            ? new MappingStep(MappingStepKind.ProtectRelro, (nint)((ulong)bias + relro.Address), relro.Length, MemoryProtection.Read,
                MappingFlags.None, null, "make PT_GNU_RELRO read-only at base+0x{0:x}", relro.Address)
            : null;

    /// <summary>The whole reservation unmapped when the image is unloaded.</summary>
    public static MappingStep Unmap(AddressRange reserved) =>
        new(MappingStepKind.Unmap, reserved.Start, reserved.Length, MemoryProtection.None, MappingFlags.None, null,
            "unload: unmap the whole reservation");

    /// <summary>
    /// Every step the mapper made for an image, in its order: the reservation (the kernel's address
    /// <paramref name="raw"/>) or the caller's range, the trims, the overlays (with MAP_POPULATE where
    /// <paramref name="prefault"/> made it), the .bss, and RELRO when the mapping applied it.
    /// </summary>
    public static void AppendMapped(List<MappingStep> steps, LoadPlan plan, ulong page, nint raw, AddressRange? callerRange,
        nint bias, ulong extendedEnd, bool tableInFirst, bool relroApplied, bool prefault)
    {
        var buffer = new StepBuffer();
        Span<MappingStep> some = buffer;
        if (callerRange is { } range)
        {
            steps.Add(ReservedRangeUse.UseStep(range, plan.Size));
        }
        else
        {
            steps.Add(Reserve(plan, page, raw));
            int trims = Trims(plan, page, raw, some);
            for (int i = 0; i < trims; i++)
                steps.Add(some[i]);
        }
        var overlays = plan.OverlaySpan;
        int tableOverlay = TableOverlay(plan, extendedEnd);
        int count = OverlaySteps(overlays.Length, tableOverlay, tableInFirst);
        for (int step = 0; step < count; step++)
        {
            int i = OverlayAt(step, overlays.Length, tableOverlay, tableInFirst);
            if (Overlay(plan, i, bias, extendedEnd, tableInFirst, prefault, page) is { } overlay)
                steps.Add(overlay);
        }
        foreach (var o in overlays)
        {
            if (plan.BssOf(o) is not { } bss)
                continue;
            int n = Bss(bss, bias, page, some);
            for (int i = 0; i < n; i++)
                steps.Add(some[i]);
        }
        if (relroApplied && Relro(plan, bias) is { } relro)
            steps.Add(relro);
    }
}
