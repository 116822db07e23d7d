namespace Loader.Mapping;

/// <summary>A range of the address space: <c>[Start, Start + Length)</c>.</summary>
/// <param name="Start">The first address.</param>
/// <param name="Length">The length in bytes.</param>
public readonly record struct AddressRange(nint Start, ulong Length)
{
    /// <summary>The first address past the range.</summary>
    public nint End => (nint)((ulong)Start + Length);

    /// <summary>True when the ranges share at least one byte.</summary>
    public bool Overlaps(nint start, nint end) => (ulong)start < (ulong)End && (ulong)Start < (ulong)end;

    /// <summary><c>0x7f…000-0x7f…000</c>, as /proc/self/maps writes a range.</summary>
    public override string ToString() => $"0x{Start:x}-0x{End:x}";
}
