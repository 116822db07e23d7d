using Loader.Linking;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// A host library's handle searches what glibc's handle on the same object searches: the library, then its DT_NEEDED
/// tree breadth-first, each module once (glibc builds that list, <c>l_searchlist</c>, when the object is first
/// <c>dlopen</c>ed). The oracles are glibc's <c>dlsym</c> on <c>dlopen(name, RTLD_NOW|RTLD_NOLOAD)</c>, its link maps
/// (<c>dlinfo</c>), and <c>readelf -d</c> of each file.
/// </summary>
public sealed class HostLibraryHandleTests
{
    public static TheoryData<string> HostLibraries() => new() { "libstdc++.so.6", "libm.so.6", "libgcc_s.so.1", "libc.so.6" };

    /// <summary>Names defined by the libraries themselves, only in a dependency (libc, libm, ld.so), versioned ones
    /// (the default version wins), IFUNCs, an STB_GNU_UNIQUE object, and names defined nowhere.</summary>
    private static readonly string[] Names =
    [
        "strlen", "memcpy", "malloc", "free", "pthread_create", "__cxa_finalize", "__cxa_atexit", "gnu_get_libc_version",
        "sin", "cos", "_Unwind_RaiseException", "_Unwind_Backtrace", "_ZSt4cout", "_ZNSs4_Rep11_S_max_sizeE",
        "__tls_get_addr", "_dl_find_object", "deflate", "loader_lib12_defined_nowhere", "_ZSt4cout_defined_nowhere",
    ];

    [Theory]
    [MemberData(nameof(HostLibraries))]
    public void TryGetExport_on_a_host_library_gives_what_dlsym_on_glibcs_handle_gives(string soname)
    {
        using var library = new LoaderContext().Load(soname);
        Assert.True(library.IsHost, $"{soname} should be the host's copy");
        nint handle = Glibc.OpenLoaded(soname);
        Assert.True(handle != 0, $"dlopen({soname}, RTLD_NOLOAD): {Glibc.LastError()}");

        var mismatches = new List<string>();
        var fromDependencies = new List<string>();
        foreach (string name in Names)
        {
            nint expected = Glibc.Symbol(handle, name);
            nint actual = library.TryGetExport(name, out nint address) ? address : 0;
            if (actual != expected)
                mismatches.Add($"{name}: dlsym 0x{expected:x}, ours 0x{actual:x}");
            if (expected != 0 && Glibc.RealPath(Glibc.AddressInfo(expected).FileName!) != Glibc.RealPath(library.Path))
                fromDependencies.Add(name);
        }

        Assert.Empty(mismatches);
        // The comparison covers names only a dependency defines (what a handle without its tree would miss) and names
        // defined nowhere.
        Assert.NotEmpty(fromDependencies);
        Assert.Contains(Names, n => Glibc.Symbol(handle, n) == 0);
    }

    [Theory]
    [MemberData(nameof(HostLibraries))]
    public void A_host_librarys_Dependencies_and_Scope_are_its_DT_NEEDED_tree_as_readelf_and_glibc_show_it(string soname)
    {
        using var library = new LoaderContext().Load(soname);

        // Breadth-first over readelf -d, each file once, each DT_NEEDED name resolved by glibc itself (RTLD_NOLOAD).
        var order = new List<string> { Glibc.RealPath(library.Path) };
        var bases = new Dictionary<string, nint> { [order[0]] = library.BaseAddress };
        var expectedEdges = new List<(string RequestedBy, string Needed, string Module, nint Base, int Depth)>();
        var depth = new Dictionary<string, int> { [order[0]] = 0 };
        for (int i = 0; i < order.Count; i++)
        {
            var dynamic = Readelf.ReadAll(order[i]).Dynamic;
            Assert.NotNull(dynamic);
            foreach (string needed in dynamic.Needed)
            {
                nint handle = Glibc.OpenLoaded(needed);
                Assert.True(handle != 0, $"dlopen({needed}, RTLD_NOLOAD): {Glibc.LastError()}");
                string file = Glibc.RealPath(Glibc.LinkMapName(handle));
                if (depth.TryAdd(file, depth[order[i]] + 1))
                {
                    order.Add(file);
                    bases[file] = Glibc.LoadBias(handle);
                }
                expectedEdges.Add((order[i], needed, file, Glibc.LoadBias(handle), depth[order[i]] + 1));
            }
        }

        var edges = library.Dependencies
            .Select(d => (Glibc.RealPath(d.RequestedBy.Path), d.Needed, Glibc.RealPath(d.Module.Path), d.Module.BaseAddress, d.Depth))
            .ToList();
        Assert.Equal(expectedEdges, edges);
        Assert.All(library.Dependencies, d => Assert.Equal(DependencySource.Host, d.Source));
        Assert.Equal(order, library.Scope.Select(m => Glibc.RealPath(m.Path)));
        Assert.Equal(order.Select(f => bases[f]), library.Scope.Select(m => m.BaseAddress));
        Assert.All(library.Scope, m => Assert.True(m.IsHost));
    }

    [Fact]
    public void An_image_handle_finds_what_glibc_finds_through_a_host_dependency_and_its_tree()
    {
        // libz needs libc, which needs ld.so: dlsym on glibc's own libz handle finds ld.so's _dl_find_object.
        using var ours = new LoaderContext().Load(SystemLibraries.ZlibPath);
        nint glibc = Glibc.Open(SystemLibraries.ZlibPath);
        Assert.True(glibc != 0, Glibc.LastError());
        try
        {
            foreach (string name in new[] { "strlen", "malloc", "__tls_get_addr", "_dl_find_object", "sin", "loader_lib12_defined_nowhere" })
            {
                nint expected = Glibc.Symbol(glibc, name);
                Assert.Equal((name, expected), (name, ours.TryGetExport(name, out nint address) ? address : 0));
            }
        }
        finally
        {
            Glibc.Close(glibc);
        }
        // The image's own dependency list stays what its load resolved: libc, taken from the host, one edge.
        var libc = Assert.Single(ours.Dependencies);
        Assert.Equal(("libc.so.6", DependencySource.Host, 1), (libc.Needed, libc.Source, libc.Depth));
    }

    [Fact]
    public void A_path_to_another_copy_of_a_host_library_is_the_hosts_library_and_nothing_is_loaded_from_it()
    {
        // Two copies of libm (which the runtime itself has loaded) in places of their own. glibc, asked for such a
        // path, maps a second libm; Loader keeps the process to one copy of each host library, as it does for a
        // DT_SONAME or DT_NEEDED naming one — and a copy the system loader took would stay loaded for good.
        string directory = Directory.CreateTempSubdirectory("loader-host-copy-").FullName;
        try
        {
            nint hostHandle = Glibc.OpenLoaded("libm.so.6");
            string host = Glibc.LinkMapName(hostHandle);
            Glibc.Close(hostHandle);
            var copies = new[] { "a", "b" }.Select(d => Path.Combine(Directory.CreateDirectory(Path.Combine(directory, d)).FullName, "libm.so.6")).ToArray();
            foreach (string copy in copies)
                File.Copy(host, copy);

            var context = new LoaderContext();
            foreach (string copy in copies)
            {
                using var library = context.Load(copy);
                Assert.True(library.IsHost, $"{copy} should be the host's libm");
                nint glibcHandle = Glibc.OpenLoaded("libm.so.6");
                Assert.Equal(Glibc.LoadBias(glibcHandle), library.BaseAddress);
                Glibc.Close(glibcHandle);
            }

            // Neither copy was mapped, by Loader or by glibc.
            Assert.DoesNotContain(File.ReadLines("/proc/self/maps"), line => line.Contains(directory, StringComparison.Ordinal));
            Assert.All(copies, copy => Assert.Equal(0, Glibc.OpenLoaded(copy)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void A_path_named_like_a_host_library_with_no_file_there_is_refused_as_glibc_refuses_it()
    {
        // Not the host's libm by its name: there is no copy to stand for.
        string path = Path.Combine(Path.GetTempPath(), $"loader-no-such-directory-{Guid.NewGuid():N}", "libm.so.6");
        var e = Assert.ThrowsAny<LoaderException>(() => new LoaderContext().Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Glibc.LastError();
        Assert.Equal(0, Glibc.Open(path));
        string? glibcSays = Glibc.LastError();
        Assert.NotNull(glibcSays);
        Assert.Contains("No such file or directory", glibcSays, StringComparison.Ordinal);
        Assert.Contains("No such file or directory", e.Message, StringComparison.Ordinal);
    }
}
