using Loader.Elf;
using Loader.Mapping;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// Makes an image's unwind tables visible to the host's libgcc, so a C++ exception, <c>backtrace</c> or
/// <c>_Unwind_Backtrace</c> can walk through code Loader mapped. libgcc finds frames through <c>dl_iterate_phdr</c>,
/// which lists only glibc's modules; the other door it has is <c>__register_frame</c> (docs/architecture.md, "Living
/// beside glibc"). What is registered has passed <see cref="UnwindTableCheck"/>. Registered after relocation (personality and LSDA pointers are relocated data) and before any initializer runs;
/// deregistered exactly once, with the same address, after the finalizers and before the image is unmapped.
/// </summary>
internal static class UnwindRegistry
{
    /// <summary>
    /// Registers the module's <c>.eh_frame</c> with libgcc and records the address on the module. Nothing for a host
    /// module, a module already registered, a library without <c>PT_GNU_EH_FRAME</c>, or an empty <c>.eh_frame</c>
    /// (libgcc's <c>__register_frame</c> would skip it too).
    /// </summary>
    /// <exception cref="ElfFormatException">The header or the table is malformed: registering it could send libgcc
    /// reading past the image.</exception>
    public static void Register(Module module)
    {
        if (module.Image is not { } image)
            return;
        if (image.UnwindTableChecked is { } checkedBeforeOverlays && !HasTextRelocations(image))
        {
            // The mapper checked the table before relocation — in a copy of the file's bytes, or in the file's pages
            // before the overlays replaced them, and registered it then when the load asked it to; no relocation
            // writes a read-only segment without text relocations, so those are still the bytes mapped there.
            if (image.RegisteredEhFrame == 0 && checkedBeforeOverlays.Start is { } start)
                image.RegisteredEhFrame = Register(image, start);
            return;
        }
        // Text relocations may have written the table since: checked again as it is now.
        image.DeregisterUnwindTable();
        if (UnwindTableCheck.Find(image.Path, image.ProgramHeaders, image.Plan, image.Memory, image.BaseAddress) is not { } table)
            return;
        image.RegisteredEhFrame = Register(image, table.Start);
        ReleaseWalkedPages(image, table.Start, table.WalkedEnd);
    }

    private static bool HasTextRelocations(ElfImage image) =>
        image.Dynamic is { } dynamic && (dynamic.Has(DynamicTag.TextRel) || (dynamic.Flags & DynamicFlags.TextRel) != 0);

    /// <summary>Through an array when this process's libgcc takes one (<see cref="LibgccRegistry"/>): then nothing of
    /// the table is read now or at deregistration; otherwise the table itself, whose first word libgcc reads.</summary>
    private static nint Register(ElfImage image, ulong start)
    {
        nint ehFrame = (nint)((ulong)image.BaseAddress + start);
        if (LibgccRegistry.TakesArrays)
            image.RegisteredThroughArray = FrameRegistration.RegisterThroughArray(ehFrame);
        else
            FrameRegistration.Register(ehFrame);
        return ehFrame;
    }

    /// <summary>
    /// The check walked every entry of <c>.eh_frame</c>, which made each of its pages resident — often the largest
    /// read-only table of a library, and one glibc's loader never touches (libgcc 12's <c>__register_frame</c> reads
    /// only its first word; the entries are read at the first unwind that needs them). Those pages were only read,
    /// so they are dropped again and come back from the file if an unwind ever reads them
    /// (docs/benchmarks.md, "Memory held"). Only in a read-only PT_LOAD of an image without text relocations, and
    /// only whole file pages before any <c>.bss</c> tail the mapper zeroed: nothing written is ever dropped. (When the
    /// mapper could check the table before the overlays, as for ld's usual layout, there is nothing to drop.)
    /// </summary>
    private static void ReleaseWalkedPages(ElfImage image, ulong start, ulong end)
    {
        if (UnwindTableCheck.ReadableSegment(image.Plan, start, 4) is not { } segment || (segment.Protection & MemoryProtection.Write) != 0)
            return;
        if (HasTextRelocations(image))
            return;
        ulong page = (ulong)Environment.SystemPageSize;
        ulong fileEnd = segment.VirtualAddress + segment.FileSize;
        ulong last = segment.MemorySize > segment.FileSize ? LoadPlan.PageDown(fileEnd, page) : LoadPlan.PageUp(fileEnd, page);
        ulong from = LoadPlan.PageDown(start, page), to = Math.Min(LoadPlan.PageUp(end, page), last);
        if (to > from)
            Mmap.DropUnwrittenPages((nint)((ulong)image.BaseAddress + from), to - from, out _); // advice only: a failure costs memory, not correctness
    }

    /// <summary>Takes off what was registered for the module, once.</summary>
    public static void Deregister(Module module) => module.Image?.DeregisterUnwindTable();
}
