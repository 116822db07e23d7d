namespace Loader;

/// <summary>
/// Byte buffers a load borrows for the length of one step (the header reads, a candidate's first page, the deferred
/// relocations) and gives back for the next load on the thread: a few per thread, no locks. Not
/// <c>ArrayPool&lt;byte&gt;.Shared</c>: a process's first use of the shared pool builds it — its per-thread buckets in a
/// <c>ConditionalWeakTable</c>, its trimming callback and its <c>EventSource</c> — which cost a user's first load about
/// 0.6–1 ms and 90 KB of resident memory in a program that had not used the pool yet. A nested load on the same thread
/// (an initializer that loads) takes what is left, and allocates when nothing is. A buffer larger than
/// <see cref="LargestKept"/> (a million deferred relocations) comes from the shared pool and goes back to it, so that
/// such a load allocates no more than any other either.
/// </summary>
internal static class SpareBuffers
{
    /// <summary>The largest buffer kept by the thread: more than a real library's headers need; larger ones are the shared
    /// pool's.</summary>
    internal const int LargestKept = 64 * 1024;

    /// <summary>How many buffers a thread keeps: a load holds at most three at once (a search's first page, the header
    /// reads, the deferred relocations).</summary>
    private const int Kept = 4;

    [ThreadStatic]
    private static byte[]?[]? t_spares;

    /// <summary>A buffer of at least <paramref name="length"/> bytes (its contents are whatever the last user left).</summary>
    public static byte[] Rent(int length)
    {
        if (length > LargestKept)
            return RentShared(length);
        var spares = t_spares;
        if (spares is not null)
        {
            int best = -1;
            for (int i = 0; i < spares.Length; i++)
            {
                if (spares[i] is { } spare && spare.Length >= length && (best < 0 || spare.Length < spares[best]!.Length))
                    best = i;
            }
            if (best >= 0)
            {
                var taken = spares[best]!;
                spares[best] = null;
                return taken;
            }
        }
        return new byte[Math.Max(length, 4096)];
    }

    /// <summary>Gives <paramref name="buffer"/> back: to the thread, into a free place or instead of the smallest kept one
    /// when it is larger; to the shared pool when it came from there.</summary>
    public static void Return(byte[] buffer)
    {
        if (buffer.Length > LargestKept)
        {
            ReturnShared(buffer);
            return;
        }
        var spares = t_spares ??= new byte[Kept][];
        int smallest = 0;
        for (int i = 0; i < spares.Length; i++)
        {
            if (spares[i] is null)
            {
                spares[i] = buffer;
                return;
            }
            if (spares[i]!.Length < spares[smallest]!.Length)
                smallest = i;
        }
        if (spares[smallest]!.Length < buffer.Length)
            spares[smallest] = buffer;
    }

    // Out of line, so that a load that needs no large buffer does not make the runtime load the pool's types.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static byte[] RentShared(int length) => System.Buffers.ArrayPool<byte>.Shared.Rent(length);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ReturnShared(byte[] buffer) => System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
}
