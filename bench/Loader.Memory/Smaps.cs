using System.Globalization;

namespace Loader.Memory;

/// <summary>One mapping of <c>/proc/PID/smaps</c>: its range, its pathname (empty for anonymous memory) and its
/// resident size.</summary>
internal sealed record SmapsEntry(ulong Start, ulong End, string Permissions, string Path, long RssBytes, long AnonymousBytes)
{
    public ulong Size => End - Start;
}

/// <summary>A process's memory as <c>/proc/PID/status</c> and <c>/proc/PID/smaps</c> show it at one moment.</summary>
internal sealed record MemorySample(long VmRss, long RssAnon, long RssFile, long RssShmem, IReadOnlyList<SmapsEntry> Mappings)
{
    public static MemorySample Read(int pid) =>
        new(StatusBytes(pid, "VmRSS"), StatusBytes(pid, "RssAnon"), StatusBytes(pid, "RssFile"), StatusBytes(pid, "RssShmem"),
            ReadSmaps(pid));

    private static long StatusBytes(int pid, string field)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException($"/proc/{pid}/status has no {field}");
    }

    private static List<SmapsEntry> ReadSmaps(int pid)
    {
        var result = new List<SmapsEntry>();
        ulong start = 0, end = 0;
        string permissions = "", path = "";
        long rss = 0, anonymous = 0;
        bool open = false;
        foreach (string line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            int colon = line.IndexOf(':');
            bool isField = colon > 0 && !line[..colon].Contains('-') && !line[..colon].Contains(' ');
            if (!isField)
            {
                if (open)
                    result.Add(new SmapsEntry(start, end, permissions, path, rss, anonymous));
                // 7f..-7f.. rw-p 00000000 00:00 0      [heap]
                var parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                var range = parts[0].Split('-');
                start = ulong.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                end = ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                permissions = parts[1];
                path = parts.Length > 5 ? parts[5].Trim() : "";
                rss = anonymous = 0;
                open = true;
            }
            else if (line.StartsWith("Rss:", StringComparison.Ordinal))
                rss = KiloBytes(line);
            else if (line.StartsWith("Anonymous:", StringComparison.Ordinal))
                anonymous = KiloBytes(line);
        }
        if (open)
            result.Add(new SmapsEntry(start, end, permissions, path, rss, anonymous));
        return result;
    }

    private static long KiloBytes(string line) =>
        long.Parse(line[(line.IndexOf(':') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
}
