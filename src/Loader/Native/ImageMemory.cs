namespace Loader.Native;

/// <summary>
/// The one door into a mapped image's bytes: every read or write names an absolute address and a length, and is
/// refused (<see cref="ArgumentOutOfRangeException"/> from here, before any pointer is formed) unless it lies
/// inside the reservation. Callers decide which parts are readable or writable (they hold the plan); this type
/// makes sure a bad offset cannot reach memory that is not ours.
/// </summary>
internal sealed unsafe class ImageMemory
{
    public ImageMemory(nint start, ulong length)
    {
        Start = start;
        Length = length;
    }

    /// <summary>The first byte of the reservation.</summary>
    public nint Start { get; }

    /// <summary>The reservation's length in bytes.</summary>
    public ulong Length { get; }

    /// <summary>The bytes of <c>[address, address + length)</c>, which must lie inside the reservation.</summary>
    public Span<byte> GetSpan(nint address, int length)
    {
        Check(address, (ulong)length);
        return new Span<byte>((void*)address, length);
    }

    /// <summary>Writes zeros over <c>[address, address + length)</c> (the .bss tail of a file page).</summary>
    public void Clear(nint address, ulong length)
    {
        Check(address, length);
        new Span<byte>((void*)address, checked((int)length)).Clear();
    }

    private void Check(nint address, ulong length)
    {
        ulong offset = unchecked((ulong)address - (ulong)Start);
        if ((ulong)address < (ulong)Start || offset > Length || length > Length - offset)
            throw new ArgumentOutOfRangeException(nameof(address),
                $"[0x{address:x}, +0x{length:x}) lies outside the image's reservation [0x{Start:x}, +0x{Length:x})");
    }
}
