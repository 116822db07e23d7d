using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Loader.Linking;

/// <summary>
/// <c>/etc/ld.so.cache</c>, the soname → path table <c>ldconfig</c> writes and glibc's <c>_dl_load_cache_lookup</c>
/// (elf/dl-cache.c) consults after the search paths and before the default directories.
/// </summary>
/// <remarks>
/// <para>Formats: the new one (<c>glibc-ld.so.cache1.1</c>: a 48-byte header, 24-byte entries, string offsets relative
/// to the header), and the old <c>ld.so-1.7.0</c> one (a 16-byte header, 12-byte entries, string offsets relative to
/// the end of the entries), alone or as a prefix with the new format following it 8-byte aligned, where the new part
/// is used, as glibc does.</para>
/// <para>Entries: only x86_64 ones count — flags exactly <c>FLAG_ELF_LIBC6 | FLAG_X8664_LIB64</c> (0x0303, glibc's
/// <c>_dl_cache_check_flags</c> on x86_64). Entries with hwcap bits (the legacy hwcap subdirectories and the
/// <c>glibc-hwcaps</c> extension entries) are ignored: glibc 2.36 would prefer a <c>glibc-hwcaps/x86-64-v*</c> entry
/// the CPU supports over the plain one, but Debian 12's ldconfig writes none (no such directories are installed), so
/// on this system the answer is the same as glibc's. Of the entries left, the first one in file order for a soname
/// wins: the entry glibc's binary search settles on (it steps back to the first equal key).</para>
/// </remarks>
internal sealed class LdSoCache
{
    /// <summary>Where glibc reads the cache from (<c>LD_SO_CACHE</c>).</summary>
    public const string DefaultPath = "/etc/ld.so.cache";

    /// <summary><c>FLAG_ELF_LIBC6 | FLAG_X8664_LIB64</c>: the only entry flags glibc accepts on x86_64.</summary>
    public const int X86_64Flags = 0x0303;

    private const string NewMagic = "glibc-ld.so.cache";
    private const string NewVersion = "1.1";
    private const string OldMagic = "ld.so-1.7.0";
    private const int NewHeaderSize = 48;   // sizeof(struct cache_file_new)
    private const int NewEntrySize = 24;    // sizeof(struct file_entry_new)
    private const int OldHeaderSize = 16;   // sizeof(struct cache_file): 11 magic bytes, padding, nlibs
    private const int OldEntrySize = 12;    // sizeof(struct file_entry)

    private static readonly Lazy<LdSoCache> SystemCache = new(ReadSystemCache);

    // The file's bytes, the entries as the positions of their two NUL-terminated strings in them, and an open-addressing
    // index by soname (entry number + 1; 0 is empty) that holds the first entry for each: what a process keeps for the
    // cache, about the file's size, rather than two strings an entry and a dictionary of them (3.5 times as much).
    private readonly byte[] _bytes;
    private readonly (int Key, int Value)[] _entries;
    private readonly int[] _index;

    private LdSoCache(string name, byte[] bytes, List<(int Key, int Value)> entries, int totalEntries)
    {
        Name = name;
        _bytes = bytes;
        _entries = [.. entries];
        TotalEntryCount = totalEntries;
        _index = new int[Math.Max(4, (int)BitOperations.RoundUpToPowerOf2((uint)_entries.Length * 2))];
        Span<char> small = stackalloc char[256];
        for (int i = 0; i < _entries.Length; i++)
        {
            var key = Terminated(_entries[i].Key);
            // UTF-8 never decodes to more chars than it has bytes.
            Span<char> chars = key.Length <= small.Length ? small : new char[key.Length];
            var soName = chars[..Encoding.UTF8.GetChars(key, chars)];
            if (Find(soName) < 0)
                _index[Slot(soName)] = i + 1;
        }
    }

    /// <summary>The entry number for <paramref name="soName"/> (the first in file order), or -1.</summary>
    private int Find(ReadOnlySpan<char> soName)
    {
        for (int slot = Start(soName); _index[slot] != 0; slot = (slot + 1) & (_index.Length - 1))
            if (KeyEquals(_index[slot] - 1, soName))
                return _index[slot] - 1;
        return -1;
    }

    /// <summary>The first empty slot on <paramref name="soName"/>'s probe sequence.</summary>
    private int Slot(ReadOnlySpan<char> soName)
    {
        int slot = Start(soName);
        while (_index[slot] != 0)
            slot = (slot + 1) & (_index.Length - 1);
        return slot;
    }

    private int Start(ReadOnlySpan<char> soName) => string.GetHashCode(soName) & (_index.Length - 1);

    /// <summary>Whether entry <paramref name="entry"/>'s soname, decoded as <see cref="StringAt"/> decodes it, is
    /// <paramref name="soName"/>: compared without making the string.</summary>
    private bool KeyEquals(int entry, ReadOnlySpan<char> soName)
    {
        var bytes = Terminated(_entries[entry].Key);
        if (Ascii.IsValid(bytes))
            return bytes.Length == soName.Length && Ascii.Equals(bytes, soName);
        return soName.SequenceEqual(StringAt(_entries[entry].Key)); // a non-ASCII soname: decoded, as it always was
    }

    private ReadOnlySpan<byte> Terminated(int at)
    {
        var rest = _bytes.AsSpan(at);
        return rest[..rest.IndexOf((byte)0)]; // checked when the cache was read
    }

    private string StringAt(int at) => Encoding.UTF8.GetString(Terminated(at));

    /// <summary>
    /// <c>/etc/ld.so.cache</c>, read once, on first use. A missing, unreadable or malformed cache is empty, as glibc
    /// then searches without one.
    /// </summary>
    public static LdSoCache System => SystemCache.Value;

    /// <summary>A cache with no entries.</summary>
    public static LdSoCache Empty { get; } = new("(no cache)", [], [], 0);

    /// <summary>The file (or name) the cache was read from, used in messages.</summary>
    public string Name { get; }

    /// <summary>The x86_64 entries without hwcaps, in file order: everything <see cref="Lookup"/> can return.</summary>
    public IReadOnlyList<(string SoName, string Path)> Entries
    {
        get
        {
            var entries = new (string SoName, string Path)[_entries.Length];
            for (int i = 0; i < entries.Length; i++)
                entries[i] = (StringAt(_entries[i].Key), StringAt(_entries[i].Value));
            return entries;
        }
    }

    /// <summary>Every entry in the file, of every architecture and hwcap (what <c>ldconfig -p</c> counts).</summary>
    public int TotalEntryCount { get; }

    /// <summary>The path the cache gives for <paramref name="soname"/> on x86_64, or null.</summary>
    public string? Lookup(string soname)
    {
        ArgumentNullException.ThrowIfNull(soname);
        int entry = Find(soname.AsSpan());
        return entry < 0 ? null : StringAt(_entries[entry].Value);
    }

    /// <summary>Reads a cache held in memory. A malformed cache is a <see cref="LoaderException"/> naming the field
    /// and the byte offset; nothing is read outside <paramref name="bytes"/>.</summary>
    /// <param name="bytes">The whole cache file.</param>
    /// <param name="name">The file's name, for messages.</param>
    public static LdSoCache Parse(ReadOnlySpan<byte> bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (StartsWith(bytes, 0, NewMagic))
            return ParseNew(bytes, 0, name);
        if (!StartsWith(bytes, 0, OldMagic))
            ThrowHelper.Malformed(name, "magic", 0, $"expected \"{NewMagic}{NewVersion}\" or \"{OldMagic}\", found {Describe(bytes[..Math.Min(bytes.Length, 20)])}");

        // The old format: struct cache_file { char magic[11]; uint32_t nlibs; struct file_entry libs[]; }.
        if (bytes.Length < OldHeaderSize)
            ThrowHelper.Malformed(name, "nlibs", 12, $"file is {bytes.Length} bytes, shorter than the {OldHeaderSize}-byte \"{OldMagic}\" header");
        uint nlibs = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        ulong entriesEnd = OldHeaderSize + (ulong)nlibs * OldEntrySize;
        if (entriesEnd > (ulong)bytes.Length)
            ThrowHelper.Malformed(name, "nlibs", 12, $"{nlibs} entries of {OldEntrySize} bytes run past the end of the {bytes.Length}-byte file");

        // ldconfig wrote the new format after the old entries, aligned to __alignof__(struct cache_file_new) = 8.
        ulong newStart = (entriesEnd + 7) & ~7UL;
        if (newStart + NewHeaderSize <= (ulong)bytes.Length && StartsWith(bytes, (int)newStart, NewMagic))
            return ParseNew(bytes, (int)newStart, name);

        // Old format alone: string offsets are relative to the end of the entries.
        int stringsStart = (int)entriesEnd;
        var entries = new List<(int, int)>();
        for (int i = 0; i < (int)nlibs; i++)
        {
            int at = OldHeaderSize + i * OldEntrySize;
            int flags = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
            int key = ReadString(bytes, stringsStart, BinaryPrimitives.ReadUInt32LittleEndian(bytes[(at + 4)..]), name, $"libs[{i}].key", at + 4);
            int value = ReadString(bytes, stringsStart, BinaryPrimitives.ReadUInt32LittleEndian(bytes[(at + 8)..]), name, $"libs[{i}].value", at + 8);
            if (flags == X86_64Flags)
                entries.Add((key, value));
        }
        return new LdSoCache(name, bytes.ToArray(), entries, (int)nlibs);
    }

    private static LdSoCache ParseNew(ReadOnlySpan<byte> bytes, int start, string name)
    {
        // struct cache_file_new { char magic[17]; char version[3]; uint32_t nlibs; uint32_t len_strings;
        //   uint8_t flags; uint8_t padding[3]; uint32_t extension_offset; uint32_t unused[3]; struct file_entry_new libs[]; }
        if (bytes.Length - start < NewHeaderSize)
            ThrowHelper.Malformed(name, "header", (ulong)start, $"{bytes.Length - start} bytes left, shorter than the {NewHeaderSize}-byte \"{NewMagic}\" header");
        if (!StartsWith(bytes, start + NewMagic.Length, NewVersion))
            ThrowHelper.Malformed(name, "version", (ulong)(start + NewMagic.Length), $"expected \"{NewVersion}\", found {Describe(bytes.Slice(start + NewMagic.Length, 3))}");
        uint nlibs = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(start + 20)..]);
        // cache_file_new_flags_endian: 0 unset, 1 invalid, 2 little, 3 big; glibc refuses what does not match the host.
        int endian = bytes[start + 28] & 3;
        if (endian is 1 or 3)
            ThrowHelper.Malformed(name, "flags", (ulong)(start + 28), $"endianness {(endian == 1 ? "marked invalid" : "big-endian")}, expected little-endian (2) or unset (0)");
        ulong available = (ulong)(bytes.Length - start - NewHeaderSize);
        if ((ulong)nlibs * NewEntrySize > available)
            ThrowHelper.Malformed(name, "nlibs", (ulong)(start + 20), $"{nlibs} entries of {NewEntrySize} bytes run past the end of the {bytes.Length}-byte file");

        var entries = new List<(int, int)>();
        for (int i = 0; i < (int)nlibs; i++)
        {
            // struct file_entry_new { int32_t flags; uint32_t key, value; uint32_t osversion_unused; uint64_t hwcap; }
            int at = start + NewHeaderSize + i * NewEntrySize;
            int flags = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
            int key = ReadString(bytes, start, BinaryPrimitives.ReadUInt32LittleEndian(bytes[(at + 4)..]), name, $"libs[{i}].key", at + 4);
            int value = ReadString(bytes, start, BinaryPrimitives.ReadUInt32LittleEndian(bytes[(at + 8)..]), name, $"libs[{i}].value", at + 8);
            ulong hwcap = BinaryPrimitives.ReadUInt64LittleEndian(bytes[(at + 16)..]);
            if (flags == X86_64Flags && hwcap == 0)
                entries.Add((key, value));
        }
        return new LdSoCache(name, bytes.ToArray(), entries, (int)nlibs);
    }

    /// <summary>Where the NUL-terminated string at <paramref name="baseOffset"/> + <paramref name="offset"/> starts,
    /// checked: inside the file, and terminated before its end.</summary>
    private static int ReadString(ReadOnlySpan<byte> bytes, int baseOffset, uint offset, string name, string field, int fieldOffset)
    {
        ulong at = (ulong)baseOffset + offset;
        if (at >= (ulong)bytes.Length)
            ThrowHelper.Malformed(name, field, (ulong)fieldOffset, $"string offset 0x{offset:x} (file offset 0x{at:x}) lies past the end of the {bytes.Length}-byte file");
        var rest = bytes[(int)at..];
        int nul = rest.IndexOf((byte)0);
        if (nul < 0)
            ThrowHelper.Malformed(name, field, (ulong)fieldOffset, $"string at file offset 0x{at:x} has no NUL terminator before the end of the file");
        return (int)at;
    }

    private static bool StartsWith(ReadOnlySpan<byte> bytes, int offset, string ascii)
    {
        if (offset < 0 || bytes.Length - offset < ascii.Length)
            return false;
        for (int i = 0; i < ascii.Length; i++)
        {
            if (bytes[offset + i] != (byte)ascii[i])
                return false;
        }
        return true;
    }

    private static string Describe(ReadOnlySpan<byte> bytes) =>
        bytes.Length == 0 ? "nothing (empty file)" : Convert.ToHexStringLower(bytes);

    private static LdSoCache ReadSystemCache()
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(DefaultPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Empty;
        }
        try
        {
            return Parse(bytes, DefaultPath);
        }
        catch (LoaderException)
        {
            // glibc ignores a cache it cannot use (and searches the default directories).
            return Empty;
        }
    }
}
