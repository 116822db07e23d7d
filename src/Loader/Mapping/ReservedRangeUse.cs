using Loader.Native;

namespace Loader.Mapping;

/// <summary>
/// Loading into a range the caller reserved (<see cref="LoadOptions.ReservedRange"/>, bionic's
/// <c>ANDROID_DLEXT_RESERVED_ADDRESS</c>): the image starts at the range's first byte and its overlays replace the
/// caller's pages with MAP_FIXED; Loader reserves nothing of its own. The range goes back to the caller as PROT_NONE
/// anonymous pages, at unload and after a failed load, never unmapped: it is the caller's.
/// </summary>
internal static class ReservedRangeUse
{
    /// <summary>
    /// Why <paramref name="range"/> cannot hold the image of <paramref name="plan"/>, or null when it can: page-aligned,
    /// aligned for the largest p_align (the bias must be a multiple of it), at least the image's span, and mapped (a
    /// MAP_FIXED over pages nobody reserved would be the seed's bug).
    /// </summary>
    public static string? Problem(LoadPlan plan, AddressRange range, ulong page)
    {
        ulong start = (ulong)range.Start;
        if (start % page != 0)
            return $"its start 0x{start:x} is not page-aligned (0x{page:x})";
        if (start % plan.Alignment != plan.StartAddress % plan.Alignment)
            return $"its start 0x{start:x} is not aligned for the library's p_align 0x{plan.Alignment:x}";
        if (range.Length < plan.Size)
            return $"it holds 0x{range.Length:x} bytes; the image's span needs 0x{plan.Size:x}";
        if (!AddressSpace.IsMapped(range.Start, plan.Size))
            return $"[0x{start:x}, +0x{plan.Size:x}) is not all mapped: reserve it (mmap PROT_NONE) before handing it over";
        return null;
    }

    /// <summary>
    /// True when the image goes into the caller's range; false (for a hint) to reserve elsewhere as usual. A range that
    /// cannot hold it and is not a hint is refused, and left untouched.
    /// </summary>
    public static bool Decide(LoadPlan plan, AddressRange range, bool isHint, string name, ulong page)
    {
        string? problem = Problem(plan, range, page);
        if (problem is null)
            return true;
        if (!isHint)
            ThrowHelper.Refused(name, $"{name}: LoadOptions.ReservedRange {range} cannot hold the image: {problem}");
        return false;
    }

    /// <summary>The step that records the caller's range in place of Loader's own reservation.</summary>
    public static MappingStep UseStep(AddressRange range, ulong size) =>
        new(MappingStepKind.UseReservation, range.Start, size, MemoryProtection.None, MappingFlags.None, null,
            $"use the caller's reservation {range} for the image's span 0x{size:x} (mincore: every page is mapped)");

    /// <summary>
    /// mmap MAP_FIXED PROT_NONE anonymous over the image's span: the caller's range is as it was handed over. Returns
    /// the step, or null when the mmap failed (the range is then left as it is; an unload cannot fail).
    /// </summary>
    public static MappingStep? Restore(nint start, ulong length, string reason)
    {
        var step = new MappingStep(MappingStepKind.RestoreReservation, start, length, MemoryProtection.None,
            MappingFlags.Private | MappingFlags.Fixed | MappingFlags.Anonymous | MappingFlags.NoReserve, null, reason);
        return AddressSpace.ResetToNone(start, length, out _) ? step : null;
    }
}
