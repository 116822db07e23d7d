using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Loader.Native;

/// <summary>
/// Asks the processor to bring a cache line in ahead of a read (<c>prefetcht0</c>): a pass that knows from the table it
/// streams which random places it will read next starts their memory accesses early, so that they overlap instead of
/// each waiting in turn. Only a hint: it never faults and reads nothing the caller could see.
/// </summary>
internal static unsafe class CachePrefetch
{
    /// <summary>The line holding <paramref name="bytes"/>[<paramref name="offset"/>], if the offset lies in the span.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Line(ReadOnlySpan<byte> bytes, ulong offset)
    {
        if (offset < (ulong)bytes.Length)
            Address(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetReference(bytes), (nint)offset)));
    }

    /// <summary>The line holding <paramref name="address"/>, which the caller has checked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Address(void* address)
    {
        if (Sse.IsSupported)
            Sse.Prefetch0(address);
    }
}
