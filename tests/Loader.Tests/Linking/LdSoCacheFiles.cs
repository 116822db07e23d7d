using System.Buffers.Binary;
using System.Text;

namespace Loader.Tests.Linking;

/// <summary>Writes ld.so.cache files in glibc's two formats, for the tests of <see cref="Loader.Linking.LdSoCache"/>'s parser.</summary>
internal static class LdSoCacheFiles
{
    /// <summary>One cache entry: flags (0x0303 = libc6, x86-64), soname, path, and the hwcap bits.</summary>
    public sealed record Entry(int Flags, string Key, string Value, ulong Hwcap = 0);

    /// <summary>Writes a "glibc-ld.so.cache1.1" file (strings after the entries, offsets from the header).</summary>
    public static byte[] BuildNew(IReadOnlyList<Entry> entries, byte endianFlags = 2)
    {
        var strings = new List<byte>();
        var offsets = new List<(uint, uint)>();
        int stringsBase = 48 + 24 * entries.Count;
        foreach (var e in entries)
        {
            uint k = (uint)(stringsBase + strings.Count);
            strings.AddRange(Encoding.UTF8.GetBytes(e.Key)); strings.Add(0);
            uint v = (uint)(stringsBase + strings.Count);
            strings.AddRange(Encoding.UTF8.GetBytes(e.Value)); strings.Add(0);
            offsets.Add((k, v));
        }
        var bytes = new byte[stringsBase];
        Encoding.ASCII.GetBytes("glibc-ld.so.cache1.1").CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(20), (uint)entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24), (uint)strings.Count);
        bytes[28] = endianFlags;
        for (int i = 0; i < entries.Count; i++)
        {
            var at = bytes.AsSpan(48 + 24 * i);
            BinaryPrimitives.WriteInt32LittleEndian(at, entries[i].Flags);
            BinaryPrimitives.WriteUInt32LittleEndian(at[4..], offsets[i].Item1);
            BinaryPrimitives.WriteUInt32LittleEndian(at[8..], offsets[i].Item2);
            BinaryPrimitives.WriteUInt64LittleEndian(at[16..], entries[i].Hwcap);
        }
        return [.. bytes, .. strings];
    }

    /// <summary>Writes an "ld.so-1.7.0" file, optionally followed (8-byte aligned) by a new-format part.</summary>
    public static byte[] BuildOld(IReadOnlyList<Entry> entries, IReadOnlyList<Entry>? newEntries = null)
    {
        var header = new byte[16 + 12 * entries.Count];
        Encoding.ASCII.GetBytes("ld.so-1.7.0").CopyTo(header, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)entries.Count);
        if (newEntries is not null)
        {
            // Old entries' strings are not used when a new part follows; point them at offset 0 of an empty table.
            int aligned = (header.Length + 7) & ~7;
            var result = new List<byte>(header);
            while (result.Count < aligned) result.Add(0);
            result.AddRange(BuildNew(newEntries));
            return [.. result];
        }
        var strings = new List<byte>();
        for (int i = 0; i < entries.Count; i++)
        {
            var at = header.AsSpan(16 + 12 * i);
            BinaryPrimitives.WriteInt32LittleEndian(at, entries[i].Flags);
            BinaryPrimitives.WriteUInt32LittleEndian(at[4..], (uint)strings.Count);
            strings.AddRange(Encoding.UTF8.GetBytes(entries[i].Key)); strings.Add(0);
            BinaryPrimitives.WriteUInt32LittleEndian(at[8..], (uint)strings.Count);
            strings.AddRange(Encoding.UTF8.GetBytes(entries[i].Value)); strings.Add(0);
        }
        return [.. header, .. strings];
    }
}
