namespace Loader.Mapping;

/// <summary>
/// What an image keeps of its mapping to list the steps again (<see cref="MappingScript.AppendMapped"/>): where the
/// kernel put the reservation (or where the caller's range starts), the caller's range's length (0 for a reservation
/// of Loader's own), where the first overlay's mapping ended when it reached through the unwind table's segment
/// (0 when it did not), whether that longer mapping stayed the table's PT_LOAD's mapping (its own overlay was not made:
/// <see cref="UnwindTableCheck.FirstOverlayMaps"/>), and whether the load asked for large writable segments to be populated
/// (<see cref="MapOptions.PrefaultWritableSegments"/>; which ones were, <see cref="MappingScript.Overlay"/> decides again).
/// </summary>
internal readonly record struct MappedSteps(nint Reservation, ulong CallerRangeLength, ulong FirstOverlayEnd, bool TableInFirstOverlay,
    bool PrefaultWritable);
