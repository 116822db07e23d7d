using Loader.Linking;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// <c>Load("libz.so.1")</c> searches as <c>dlopen</c> does for a name without a '/': <c>LD_LIBRARY_PATH</c>, the
/// ld.so cache, the default directories. The oracle is glibc's own <c>dlopen</c> in a child process (a C program):
/// the file it maps (its link map's <c>l_name</c>, with <c>stat</c>'s device and inode) and, for a miss, every file
/// <c>LD_DEBUG=libs</c> says it tried. Our side of the file identity is the kernel's: /proc/self/maps at our base.
/// </summary>
public sealed class LoadByNameTests
{
    private const string DlopenOracle = """
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <link.h>
        #include <stdio.h>
        #include <sys/stat.h>

        /* For each name: "name<TAB>l_name<TAB>st_dev<TAB>st_ino", or "name<TAB>-<TAB>dlerror()". */
        int main(int argc, char **argv)
        {
            for (int i = 1; i < argc; i++)
            {
                void *handle = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
                struct link_map *map;
                struct stat status;
                if (handle == NULL)
                    printf("%s\t-\t%s\n", argv[i], dlerror());
                else if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || stat(map->l_name, &status) != 0)
                    return 2;
                else
                    printf("%s\t%s\t%lu\t%lu\n", argv[i], map->l_name, (unsigned long)status.st_dev, (unsigned long)status.st_ino);
            }
            return 0;
        }
        """;

    /// <summary>Libraries <see cref="SystemLibraries"/> guarantees are installed, none of them a host library.</summary>
    public static TheoryData<string> InstalledNames() =>
        new() { "libz.so.1", "libsqlite3.so.0", "libexpat.so.1", "liblz4.so.1", "libbz2.so.1.0", "libxml2.so.2" };

    private sealed record GlibcAnswer(string Name, string? FileName, ulong Device, ulong Inode, string Stderr);

    /// <summary>glibc's <c>dlopen</c> of each name in a fresh child (LD_LIBRARY_PATH as given, else unset).</summary>
    private static List<GlibcAnswer> DlopenInChild(IReadOnlyList<string> names, string? ldLibraryPath = null, bool debugLibs = false)
    {
        var environment = new Dictionary<string, string?>();
        if (ldLibraryPath is not null)
            environment["LD_LIBRARY_PATH"] = ldLibraryPath;
        if (debugLibs)
            environment["LD_DEBUG"] = "libs";
        var result = ChildProcess.Run(COracle.Compile(DlopenOracle), names, environment);
        Assert.True(result.ExitCode == 0, $"the dlopen oracle exited {result.ExitCode}: {result.Stderr}");
        var answers = new List<GlibcAnswer>();
        foreach (string line in result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] fields = line.Split('\t');
            answers.Add(fields[1] == "-"
                ? new GlibcAnswer(fields[0], null, 0, 0, result.Stderr)
                : new GlibcAnswer(fields[0], fields[1], ulong.Parse(fields[2]), ulong.Parse(fields[3]), result.Stderr));
        }
        Assert.Equal(names, answers.Select(a => a.Name));
        return answers;
    }

    [Theory]
    [MemberData(nameof(InstalledNames))]
    public void A_bare_name_loads_the_file_glibcs_dlopen_maps(string name)
    {
        var glibc = Assert.Single(DlopenInChild([name]));
        Assert.True(glibc.FileName is not null, $"glibc could not dlopen {name}: {glibc.Stderr}");

        using var context = new LoaderContext();
        using var library = context.Load(name, new LoadOptions { LdLibraryPath = "" });

        Assert.False(library.IsHost);
        Assert.Equal(glibc.FileName, library.Path);
        Assert.Equal(Glibc.RealPath(glibc.FileName), Glibc.RealPath(library.Path));
        Assert.Equal((glibc.Device, glibc.Inode), ProcMaps.DeviceAndInodeAt(library.BaseAddress));
        Assert.Equal(name, library.SoName);
        // The same name again is the same module (dlopen matches a loaded object by its soname first).
        using var again = context.Load(name);
        Assert.Equal(library.BaseAddress, again.BaseAddress);
    }

    [Fact]
    public void LD_LIBRARY_PATH_with_a_copy_wins_over_the_cache_as_in_glibc()
    {
        using var directory = new TemporaryDirectory();
        string copy = Path.Join(directory.Path, "libz.so.1");
        File.Copy(SystemLibraries.ZlibPath, copy);
        var glibc = Assert.Single(DlopenInChild(["libz.so.1"], ldLibraryPath: directory.Path));
        Assert.Equal(copy, glibc.FileName);

        using var context = new LoaderContext();
        using var library = context.Load("libz.so.1", new LoadOptions { LdLibraryPath = directory.Path });
        Assert.Equal(copy, library.Path);
        Assert.Equal((glibc.Device, glibc.Inode), ProcMaps.DeviceAndInodeAt(library.BaseAddress));
        // Without it, the cache's file (another file: the copy has its own inode).
        using var fromCache = new LoaderContext().Load("libz.so.1", new LoadOptions { LdLibraryPath = "" });
        Assert.NotEqual(ProcMaps.DeviceAndInodeAt(library.BaseAddress), ProcMaps.DeviceAndInodeAt(fromCache.BaseAddress));
    }

    [Fact]
    public void A_miss_lists_every_place_tried_in_glibcs_order()
    {
        const string name = "libloader-lib12-missing.so.7";
        using var first = new TemporaryDirectory();
        using var second = new TemporaryDirectory();
        string ldLibraryPath = $"{first.Path}:{second.Path}";

        var glibc = Assert.Single(DlopenInChild([name], ldLibraryPath, debugLibs: true));
        Assert.Null(glibc.FileName);
        // glibc also tries the hwcap subdirectories that do not exist (once per process); the search skips those.
        var tried = glibc.Stderr.Split('\n')
            .Where(l => l.Contains("trying file=", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf("trying file=", StringComparison.Ordinal) + "trying file=".Length)..].Trim())
            .Where(path => path.EndsWith("/" + name, StringComparison.Ordinal)) // not the child's own libc
            .Where(path => Directory.Exists(Path.GetDirectoryName(path)))
            .ToList();
        Assert.Contains(Path.Join(first.Path, name), tried);
        Assert.Contains(tried, p => p.StartsWith("/usr/lib/x86_64-linux-gnu/", StringComparison.Ordinal));

        var options = new LoadOptions { LdLibraryPath = ldLibraryPath };
        var e = Assert.Throws<LibraryNotFoundException>(() => new LoaderContext().Load(name, options));
        Assert.Equal(name, e.Name);
        Assert.Null(e.RequesterPath);
        Assert.Equal(tried, e.Attempts.Select(a => a.Path));
        Assert.All(e.Attempts, a => Assert.Equal(SearchAttempt.NotFound, a.Outcome));
        Assert.Equal(["LD_LIBRARY_PATH", "default directory"], e.Attempts.Select(a => a.Source).Distinct());
        Assert.All(tried, path => Assert.Contains(path, e.Message, StringComparison.Ordinal));

        Assert.False(ElfLibrary.TryLoad(name, out var none, options));
        Assert.Null(none);
    }

    [Fact]
    public void A_name_with_a_slash_stays_a_path_and_is_not_searched()
    {
        // glibc's dlopen("missing-dir/libz.so.1") opens that relative path only; so do we.
        var e = Assert.ThrowsAny<LoaderException>(() => new LoaderContext().Load("loader-lib12-missing-dir/libz.so.1"));
        Assert.IsNotType<LibraryNotFoundException>(e);
        Assert.Null(Assert.Single(DlopenInChild(["loader-lib12-missing-dir/libz.so.1"])).FileName);
    }

    [Theory]
    [InlineData("libc.so.6")]
    [InlineData("libm.so.6")]
    [InlineData("libstdc++.so.6")]
    public void A_bare_host_library_name_is_still_the_hosts_copy(string name)
    {
        using var library = new LoaderContext().Load(name, new LoadOptions { LdLibraryPath = "" });
        nint handle = Glibc.OpenLoaded(name);
        Assert.True(handle != 0, Glibc.LastError());
        Assert.True(library.IsHost);
        Assert.Equal(Glibc.LoadBias(handle), library.BaseAddress);
        Assert.Equal(Glibc.RealPath(Glibc.LinkMapName(handle)), Glibc.RealPath(library.Path));
    }

    private sealed class TemporaryDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("loader-lib12-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
