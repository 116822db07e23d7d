using System.Text;

namespace Loader.Elf;

/// <summary>
/// One string per distinct name of the dynamic tables' kind in the process — version names, sonames, DT_NEEDED
/// entries: <c>GLIBC_2.2.5</c> and <c>libc.so.6</c> are named by nearly every library, and a module keeps these names
/// for as long as it is loaded, so each would otherwise keep its own copies (and a load would allocate them). Decoded
/// once, found again from the UTF-8 bytes without allocating. Bounded: past <see cref="Capacity"/> distinct names a
/// name is decoded afresh instead, so a process that loads ever new libraries never grows the table without limit.
/// </summary>
/// <remarks>
/// An open-addressing table of strings keyed by the bytes' GNU hash, read without a lock (a slot is written once, whole)
/// and written under one: no generic collection, so nothing here is left for the JIT on a process's first load
/// (docs/benchmarks.md, "Cold start").
/// </remarks>
internal static class InternedNames
{
    /// <summary>Distinct names kept at most (a few thousand in a process with every system library).</summary>
    internal const int Capacity = 4096;

    // Names longer than this are decoded without the table (no version name or soname comes near it).
    private const int LongestInterned = 256;

    // At most half full, a power of two: probe sequences stay short. It starts small and doubles (up to twice the
    // capacity) as names come, so a process with a few libraries does not hold a table made for every system library;
    // a reader that still has the smaller array and misses takes the lock and finds the name in the new one.
    private static string?[] s_slots = new string?[512];
    private static readonly Lock s_lock = new();
    private static int s_count;

    /// <summary>The string for <paramref name="utf8"/>: the table's, when it has or takes it.</summary>
    public static string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > LongestInterned)
            return Encoding.UTF8.GetString(utf8);
        uint hash = GnuHashTable.Hash(utf8);
        var slots = Volatile.Read(ref s_slots);
        int mask = slots.Length - 1;
        for (int i = (int)(hash & (uint)mask); ; i = (i + 1) & mask)
        {
            string? known = Volatile.Read(ref slots[i]);
            if (known is null)
                break;
            if (Matches(known, utf8))
                return known;
        }
        string created = Encoding.UTF8.GetString(utf8);
        lock (s_lock)
        {
            slots = s_slots;
            mask = slots.Length - 1;
            for (int i = (int)(hash & (uint)mask); ; i = (i + 1) & mask)
            {
                string? known = slots[i];
                if (known is not null)
                {
                    if (Matches(known, utf8))
                        return known;
                    continue;
                }
                if (s_count >= Capacity)
                    return created;
                if ((s_count + 1) * 2 > slots.Length)
                {
                    slots = Grown(slots);
                    Volatile.Write(ref s_slots, slots);
                    mask = slots.Length - 1;
                    for (i = (int)(hash & (uint)mask); slots[i] is not null; i = (i + 1) & mask)
                    {
                    }
                }
                Volatile.Write(ref slots[i], created);
                s_count++;
                return created;
            }
        }
    }

    /// <summary>The names in a table twice as large, each at its place there (its UTF-8 bytes' hash again).</summary>
    private static string?[] Grown(string?[] slots)
    {
        var grown = new string?[slots.Length * 2];
        int mask = grown.Length - 1;
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(LongestInterned)];
        foreach (string? name in slots)
        {
            if (name is null)
                continue;
            int length = Encoding.UTF8.GetBytes(name, utf8);
            int i = (int)(GnuHashTable.Hash(utf8[..length]) & (uint)mask);
            while (grown[i] is not null)
                i = (i + 1) & mask;
            grown[i] = name;
        }
        return grown;
    }

    /// <summary>Whether <paramref name="name"/> is the string <paramref name="utf8"/> decodes to.</summary>
    private static bool Matches(string name, ReadOnlySpan<byte> utf8)
    {
        if (name.Length == utf8.Length && Ascii.Equals(utf8, name))
            return true;
        if (Ascii.IsValid(utf8))
            return false; // an ASCII name has as many chars as bytes: compared above
        Span<char> chars = stackalloc char[LongestInterned];
        int length = Encoding.UTF8.GetChars(utf8, chars);
        return chars[..length].SequenceEqual(name);
    }
}
