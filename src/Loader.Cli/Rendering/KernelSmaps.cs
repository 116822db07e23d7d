using System.Globalization;

namespace Loader.Cli.Rendering;

/// <summary>What /proc/PID/smaps says about the pages of one address range, summed over the mappings inside it (kB
/// fields converted to bytes). <see cref="SharedMappingRss"/> is the resident part of the MAP_SHARED mappings.</summary>
internal sealed record RangeMemory(ulong Rss, ulong SharedClean, ulong SharedDirty, ulong PrivateClean, ulong PrivateDirty, ulong SharedMappingRss)
{
    /// <summary>Resident pages the kernel counts as mapped by more than one process.</summary>
    public ulong Shared => SharedClean + SharedDirty;
}

/// <summary>Reads /proc/PID/smaps (proc(5)): per mapping, its range, permissions, and the kB counters.</summary>
internal static class KernelSmaps
{
    /// <summary>The counters of every mapping of <paramref name="pid"/> that shares a byte with <c>[start, end)</c>.</summary>
    public static RangeMemory Read(int pid, ulong start, ulong end)
    {
        ulong rss = 0, sharedClean = 0, sharedDirty = 0, privateClean = 0, privateDirty = 0, sharedMappingRss = 0;
        bool inside = false, shared = false;
        foreach (string line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            if (KernelMaps.TryParse(line, out var mapping))
            {
                inside = mapping.Start < end && start < mapping.End;
                shared = mapping.Permissions.EndsWith('s');
                continue;
            }
            if (!inside)
                continue;
            int colon = line.IndexOf(':');
            if (colon <= 0 || !line.EndsWith(" kB", StringComparison.Ordinal))
                continue;
            ulong bytes = ulong.Parse(line.AsSpan(colon + 1, line.Length - colon - 4).Trim(), CultureInfo.InvariantCulture) * 1024;
            switch (line[..colon])
            {
                case "Rss":
                    rss += bytes;
                    if (shared)
                        sharedMappingRss += bytes;
                    break;
                case "Shared_Clean": sharedClean += bytes; break;
                case "Shared_Dirty": sharedDirty += bytes; break;
                case "Private_Clean": privateClean += bytes; break;
                case "Private_Dirty": privateDirty += bytes; break;
            }
        }
        return new RangeMemory(rss, sharedClean, sharedDirty, privateClean, privateDirty, sharedMappingRss);
    }
}
