using Loader.Elf;
using Loader.Linking;

namespace Loader.Tests.Oracles;

/// <summary>
/// glibc's library search as an outside oracle: <c>ldd</c>'s answer for a file's whole DT_NEEDED tree, compared
/// with <see cref="LibrarySearch"/>'s answer for the same tree.
/// </summary>
internal static class SearchOracles
{
    /// <summary><c>ldd FILE</c>: DT_NEEDED name → path, null for "not found" (the vdso and the interpreter are left out).</summary>
    public static Dictionary<string, string?> Ldd(string file, string? ldLibraryPath = null)
    {
        var env = new Dictionary<string, string?>();
        if (ldLibraryPath is not null)
            env["LD_LIBRARY_PATH"] = ldLibraryPath;
        var (code, stdout, stderr) = ChildProcess.Run("ldd", [file], env);
        Assert.True(code == 0, $"ldd {file}: {stderr}");
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (string line in stdout.Split('\n'))
        {
            int arrow = line.IndexOf(" => ", StringComparison.Ordinal);
            if (arrow < 0)
                continue;
            string name = line[..arrow].Trim();
            string rest = line[(arrow + 4)..].Trim();
            result[name] = rest == "not found" ? null : rest[..rest.LastIndexOf(" (", StringComparison.Ordinal)];
        }
        return result;
    }

    /// <summary>Our resolution of the whole DT_NEEDED tree, breadth-first like <c>_dl_map_object_deps</c>; each name
    /// is resolved once, for the first library that needs it.</summary>
    public static Dictionary<string, string?> ResolveTree(string root, LibrarySearch search)
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        var queue = new Queue<(string Path, LibraryRequester? LoadedBy)>();
        queue.Enqueue((root, null));
        while (queue.Count > 0)
        {
            var (path, loadedBy) = queue.Dequeue();
            using var file = ElfFile.Open(path);
            var requester = LibraryRequester.For(file, loadedBy);
            foreach (string needed in file.Needed)
            {
                if (result.ContainsKey(needed))
                    continue;
                string? found = search.Find(needed, requester, []);
                result[needed] = found;
                if (found is not null)
                    queue.Enqueue((found, requester));
            }
        }
        return result;
    }

    public static void AssertSameAsLdd(string root, string? ldLibraryPath = null, IReadOnlyList<string>? expectNames = null)
    {
        var ldd = Ldd(root, ldLibraryPath);
        var ours = ResolveTree(root, new LibrarySearch(ldLibraryPath: ldLibraryPath ?? ""));
        Assert.NotEmpty(ldd);
        foreach (var (name, path) in ldd)
        {
            Assert.True(ours.ContainsKey(name), $"{root}: ldd lists {name}, our tree does not");
            Assert.Equal((name, path), (name, ours[name]));
        }
        foreach (string name in expectNames ?? [])
            Assert.True(ldd.ContainsKey(name), $"ldd {root} does not list {name}");
    }
}
