using System.Globalization;

namespace Loader.Cli.Rendering;

/// <summary>One line of <c>/proc/self/maps</c> (proc(5)): <c>start-end perms offset major:minor inode path</c>.</summary>
/// <param name="Start">The first address.</param>
/// <param name="End">The first address past the mapping.</param>
/// <param name="Permissions">Four characters: <c>r-xp</c> (the last is <c>p</c>rivate or <c>s</c>hared).</param>
/// <param name="Offset">The file offset mapped at <paramref name="Start"/> (0 for anonymous memory).</param>
/// <param name="Device">The file's device as the kernel writes it: <c>08:01</c>.</param>
/// <param name="Inode">The file's inode, 0 for anonymous memory.</param>
/// <param name="Path">The file's path, a pseudo-path (<c>[heap]</c>), or empty.</param>
/// <param name="Line">The line as the kernel wrote it, spacing squeezed.</param>
internal sealed record KernelMapping(ulong Start, ulong End, string Permissions, ulong Offset, string Device, ulong Inode, string Path, string Line)
{
    /// <summary>The protection part of <see cref="Permissions"/>: <c>r-x</c>.</summary>
    public string Protection => Permissions.Length >= 3 ? Permissions[..3] : Permissions;

    /// <summary>The file offset the kernel maps at <paramref name="address"/> (which lies in this mapping).</summary>
    public ulong OffsetAt(ulong address) => Offset + (address - Start);
}

/// <summary>Reads <c>/proc/self/maps</c>: what the kernel says is mapped in this process, right now.</summary>
internal static class KernelMaps
{
    /// <summary>Every mapping of this process, in address order.</summary>
    public static List<KernelMapping> Read()
    {
        var result = new List<KernelMapping>();
        foreach (var line in File.ReadAllLines("/proc/self/maps"))
        {
            if (TryParse(line, out var mapping))
                result.Add(mapping);
        }
        return result;
    }

    /// <summary>The mappings that share at least one byte with <c>[start, end)</c>, in address order.</summary>
    public static List<KernelMapping> Overlapping(IEnumerable<KernelMapping> maps, ulong start, ulong end) =>
        [.. maps.Where(m => m.Start < end && start < m.End).OrderBy(m => m.Start)];

    /// <summary>Parses one line; false for a line that is not in the kernel's format.</summary>
    public static bool TryParse(string line, out KernelMapping mapping)
    {
        mapping = null!;
        // Five space-separated fields, then the path, which may itself hold spaces ("/memfd:x (deleted)").
        var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 5)
            return false;
        int dash = fields[0].IndexOf('-');
        if (dash <= 0
            || !ulong.TryParse(fields[0].AsSpan(0, dash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong start)
            || !ulong.TryParse(fields[0].AsSpan(dash + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong end)
            || !ulong.TryParse(fields[2], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong offset)
            || !ulong.TryParse(fields[4], NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode))
            return false;
        string path = fields.Length > 5 ? fields[5].Trim() : "";
        string squeezed = string.Join(' ', fields[..5]) + (path.Length > 0 ? " " + path : "");
        mapping = new KernelMapping(start, end, fields[1], offset, fields[3], inode, path, squeezed);
        return true;
    }
}
