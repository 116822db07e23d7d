using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Mapping;

/// <summary>What a test snapshots before a load, to check afterwards that nothing of ours is left behind.
/// The .NET runtime maps and opens things of its own at any time, so only what is ours is compared.</summary>
public sealed class AddressSpaceSnapshot
{
    private AddressSpaceSnapshot(IReadOnlyList<MapsEntry> maps, IReadOnlyList<string> fds)
    {
        Maps = maps;
        Fds = fds;
    }

    public IReadOnlyList<MapsEntry> Maps { get; }
    public IReadOnlyList<string> Fds { get; }

    public static AddressSpaceSnapshot Take() => new(ProcMaps.Read(), ProcFds.Targets());

    /// <summary>
    /// After an unload or a failed load: no mapping names our file (beyond those that existed before, e.g. the
    /// runtime's own copy of libc) or our memfd, no new mapping overlaps the ranges we used, and no new descriptor
    /// refers to the file.
    /// </summary>
    public void AssertNothingLeft(FileIdentity? identity, string fileNameInMaps, IEnumerable<(ulong Start, ulong End)> ours)
    {
        var after = ProcMaps.Read();
        var before = Maps.Select(m => (m.Start, m.End, m.Permissions, m.Inode)).ToHashSet();
        var ranges = ours.Where(r => r.End > r.Start).ToList();
        foreach (var m in after)
        {
            if (before.Contains((m.Start, m.End, m.Permissions, m.Inode)))
                continue;
            bool isOurFile = m.Path == fileNameInMaps || (identity is { } id && m.Inode == id.Inode && m.Inode != 0
                && (m.Major, m.Minor) == ProcMaps.SplitDevice(id.Device));
            Assert.False(isOurFile, $"a mapping of our file is left: {m}");
            // A new mapping of another named file (the runtime's /memfd:doublemapper, a library it loads) may land in a
            // range we freed; what we map is private and either our file or anonymous.
            if (m.Path.Length > 0 && !m.Path.StartsWith('['))
                continue;
            foreach (var (start, end) in ranges)
                Assert.False(m.Overlaps(start, end), $"a mapping overlapping our range [0x{start:x}, 0x{end:x}) is left: {m}");
        }
        int fdsBefore = Fds.Count(t => t == fileNameInMaps);
        int fdsAfter = ProcFds.Targets().Count(t => t == fileNameInMaps);
        Assert.True(fdsAfter <= fdsBefore, $"{fdsAfter - fdsBefore} descriptor(s) to {fileNameInMaps} are left open");
    }
}
