namespace Loader.Memory;

/// <summary>
/// Resident memory by region, from one <see cref="MemorySample"/>: which mappings are the loaded images (the ranges
/// the holder reported), which the runtime's, which the allocators'. Anonymous mappings carry no name, so they are
/// told apart by shape: a run of adjacent anonymous mappings spanning a gigabyte or more is the GC's reservation
/// (.NET's regions reserve 256 GB at start); runs that are whole, aligned 64 MiB blocks are glibc's non-main malloc
/// arenas (HEAP_MAX_SIZE on 64-bit); the rest is "other anonymous" (mmap'd malloc chunks, thread stacks, runtime data).
/// </summary>
internal static class RegionAccount
{
    public const string Images = "loaded images (their reserved ranges)";
    public const string TlsCarriers = "TLS carriers (memfd:loader-tls, shmem)";
    public const string DoubleMapped = "runtime W^X double mapping (memfd:doublemapper, shmem)";
    public const string GcHeap = "GC heap (anonymous run >= 1 GiB)";
    public const string NativeHeap = "native heap [heap]";
    public const string MallocArenas = "malloc arenas (aligned 64 MiB anonymous runs)";
    public const string OtherAnonymous = "other anonymous (mmap'd malloc chunks, stacks, runtime data)";
    public const string RuntimeFiles = "runtime and framework files (dotnet)";
    public const string OtherFiles = "other file mappings";

    public static readonly string[] Order =
        [Images, TlsCarriers, DoubleMapped, GcHeap, NativeHeap, MallocArenas, OtherAnonymous, RuntimeFiles, OtherFiles];

    private const ulong Gigabyte = 1UL << 30;
    private const ulong ArenaSize = 64UL << 20;

    public static Dictionary<string, long> Classify(MemorySample sample, IReadOnlyList<(ulong Start, ulong Length)> images)
    {
        var totals = Order.ToDictionary(name => name, _ => 0L);
        var mappings = sample.Mappings;
        int i = 0;
        while (i < mappings.Count)
        {
            var entry = mappings[i];
            if (InImage(entry, images))
            {
                totals[Images] += entry.RssBytes;
                i++;
                continue;
            }
            if (entry.Path.Length > 0)
            {
                totals[NameOf(entry.Path)] += entry.RssBytes;
                i++;
                continue;
            }
            // A run of adjacent anonymous mappings outside every image.
            int first = i;
            long rss = 0;
            do
            {
                rss += mappings[i].RssBytes;
                i++;
            }
            while (i < mappings.Count && mappings[i].Path.Length == 0 && mappings[i].Start == mappings[i - 1].End
                && !InImage(mappings[i], images));
            ulong span = mappings[i - 1].End - mappings[first].Start;
            string name = span >= Gigabyte ? GcHeap
                : span % ArenaSize == 0 && mappings[first].Start % ArenaSize == 0 ? MallocArenas
                : OtherAnonymous;
            totals[name] += rss;
        }
        return totals;
    }

    /// <summary>Resident bytes of each mapped file outside the images (the runtime's and framework's files, libraries
    /// the runtime or glibc loaded), by path: which file's pages a region's growth is.</summary>
    public static Dictionary<string, long> ByFile(MemorySample sample, IReadOnlyList<(ulong Start, ulong Length)> images)
    {
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var entry in sample.Mappings)
        {
            if (entry.Path.Length == 0 || entry.Path.StartsWith('[') || InImage(entry, images))
                continue;
            totals[entry.Path] = totals.GetValueOrDefault(entry.Path) + entry.RssBytes;
        }
        return totals;
    }

    private static string NameOf(string path) =>
        path == "[heap]" ? NativeHeap
        : path.StartsWith("/memfd:loader-tls", StringComparison.Ordinal) ? TlsCarriers
        : path.StartsWith("/memfd:doublemapper", StringComparison.Ordinal) ? DoubleMapped
        : path.StartsWith('[') ? OtherAnonymous
        : path.Contains("/dotnet/", StringComparison.Ordinal) ? RuntimeFiles
        : OtherFiles;

    private static bool InImage(SmapsEntry entry, IReadOnlyList<(ulong Start, ulong Length)> images)
    {
        foreach (var (start, length) in images)
            if (entry.Start >= start && entry.End <= start + length)
                return true;
        return false;
    }
}
