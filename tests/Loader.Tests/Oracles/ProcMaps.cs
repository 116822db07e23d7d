using System.Globalization;

namespace Loader.Tests.Oracles;

/// <summary>One line of /proc/self/maps: <c>start-end perms offset major:minor inode path</c>.</summary>
public sealed record MapsEntry(ulong Start, ulong End, string Permissions, ulong Offset, uint Major, uint Minor, ulong Inode, string Path)
{
    /// <summary>True when the entry shares a byte with [start, end).</summary>
    public bool Overlaps(ulong start, ulong end) => Start < end && start < End;

    /// <summary>The file offset mapped at <paramref name="address"/> (inside the entry).</summary>
    public ulong OffsetAt(ulong address) => Offset + (address - Start);

    public override string ToString() => $"{Start:x}-{End:x} {Permissions} {Offset:x8} {Major:x2}:{Minor:x2} {Inode} {Path}";
}

/// <summary>The kernel's view of this process's address space, as the placement tests' oracle (proc(5)).</summary>
public static class ProcMaps
{
    public static IReadOnlyList<MapsEntry> Read() => [.. File.ReadAllLines("/proc/self/maps").Select(Parse)];

    public static MapsEntry Parse(string line)
    {
        // Five space-separated fields, then (after padding) the path, which may itself contain spaces ("(deleted)").
        var rest = line.AsSpan();
        string Next(ref ReadOnlySpan<char> s)
        {
            s = s.TrimStart(' ');
            int space = s.IndexOf(' ');
            string field = space < 0 ? s.ToString() : s[..space].ToString();
            s = space < 0 ? [] : s[space..];
            return field;
        }
        string range = Next(ref rest), perms = Next(ref rest), offset = Next(ref rest), dev = Next(ref rest), inode = Next(ref rest);
        string path = rest.Trim(' ').ToString();
        int dash = range.IndexOf('-');
        int colon = dev.IndexOf(':');
        return new MapsEntry(
            ulong.Parse(range.AsSpan(0, dash), NumberStyles.HexNumber),
            ulong.Parse(range.AsSpan(dash + 1), NumberStyles.HexNumber),
            perms,
            ulong.Parse(offset, NumberStyles.HexNumber),
            uint.Parse(dev.AsSpan(0, colon), NumberStyles.HexNumber),
            uint.Parse(dev.AsSpan(colon + 1), NumberStyles.HexNumber),
            ulong.Parse(inode, CultureInfo.InvariantCulture),
            path);
    }

    /// <summary>The entries covering [start, end), which must be covered without holes (else the test fails).</summary>
    public static IReadOnlyList<MapsEntry> Covering(IReadOnlyList<MapsEntry> maps, ulong start, ulong end)
    {
        var covering = maps.Where(m => m.Overlaps(start, end)).OrderBy(m => m.Start).ToList();
        ulong at = start;
        foreach (var m in covering)
        {
            Assert.True(m.Start <= at, $"/proc/self/maps has a hole at 0x{at:x} inside [0x{start:x}, 0x{end:x})");
            at = Math.Max(at, m.End);
        }
        Assert.True(at >= end, $"/proc/self/maps does not cover [0x{start:x}, 0x{end:x}): it stops at 0x{at:x}");
        return covering;
    }

    /// <summary>The kernel's major and minor of a <c>st_dev</c> (glibc's gnu_dev_major/gnu_dev_minor).</summary>
    public static (uint Major, uint Minor) SplitDevice(ulong dev) =>
        ((uint)(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffUL)), (uint)((dev & 0xff) | ((dev >> 12) & ~0xffUL)));

    /// <summary>st_dev (glibc's makedev of the major:minor) and inode of the mapping at <paramref name="address"/>.</summary>
    public static (ulong Device, ulong Inode) DeviceAndInodeAt(nint address)
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            // 7f..-7f.. r--p 00000000 fe:01 1234   /usr/lib/x86_64-linux-gnu/libc.so.6
            var f = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            var range = f[0].Split('-');
            ulong start = ulong.Parse(range[0], NumberStyles.HexNumber), end = ulong.Parse(range[1], NumberStyles.HexNumber);
            if ((ulong)address < start || (ulong)address >= end)
                continue;
            var dev = f[3].Split(':');
            ulong major = ulong.Parse(dev[0], NumberStyles.HexNumber), minor = ulong.Parse(dev[1], NumberStyles.HexNumber);
            ulong device = ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff);
            return (device, ulong.Parse(f[4], CultureInfo.InvariantCulture));
        }
        throw new Xunit.Sdk.XunitException($"0x{address:x} is in no mapping of /proc/self/maps");
    }

}

/// <summary>The targets of this process's open descriptors (/proc/self/fd).</summary>
public static class ProcFds
{
    public static IReadOnlyList<string> Targets()
    {
        var targets = new List<string>();
        foreach (var link in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(link).LinkTarget is { } target)
                    targets.Add(target);
            }
            catch (IOException)
            {
                // The descriptor was closed between listing and reading (the runtime opens and closes its own).
            }
        }
        return targets;
    }
}
