using System.Collections.Concurrent;
using System.Text;

namespace Loader.Elf;

/// <summary>
/// One string per distinct name of the dynamic tables' kind in the process — version names, sonames, DT_NEEDED
/// entries: <c>GLIBC_2.2.5</c> and <c>libc.so.6</c> are named by nearly every library, and a module keeps these names
/// for as long as it is loaded, so each would otherwise keep its own copies (and a load would allocate them). Decoded once, found again from the UTF-8 bytes without allocating. Bounded: past
/// <see cref="Capacity"/> distinct names a name is decoded afresh instead, so a process that loads ever new libraries
/// never grows the table without limit.
/// </summary>
internal static class InternedNames
{
    /// <summary>Distinct names kept at most (a few thousand in a process with every system library).</summary>
    internal const int Capacity = 4096;

    // Names longer than this are decoded without the table (no version name or soname comes near it).
    private const int LongestInterned = 256;

    // Read without a lock: a lookup runs for each versioned symbol a relocation binds.
    private static readonly ConcurrentDictionary<string, string> s_names = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> s_byChars =
        s_names.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>The string for <paramref name="utf8"/>: the table's, when it has or takes it.</summary>
    public static string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > LongestInterned)
            return Encoding.UTF8.GetString(utf8);
        Span<char> chars = stackalloc char[LongestInterned];
        int length = Encoding.UTF8.GetChars(utf8, chars);
        var name = chars[..length];
        if (s_byChars.TryGetValue(name, out string? known))
            return known;
        string created = new(name);
        // Count is approximate under a race, which only moves the bound by the racing threads.
        return s_names.Count < Capacity ? s_names.GetOrAdd(created, created) : created;
    }
}
