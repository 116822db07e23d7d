using Loader.Linking;
using Loader.Mapping;

namespace Loader.Tests.Linking;

/// <summary>The one host-library rule: which names it covers, where the process's own copy is (checked against
/// /proc/self/maps), and that asking never loads anything.</summary>
public sealed class HostLibraryPolicyTests
{
    private const string SystemDir = "/usr/lib/x86_64-linux-gnu";

    [Theory]
    [InlineData("libc.so.6", true)]
    [InlineData("/usr/lib/x86_64-linux-gnu/libm.so.6", true)]
    [InlineData("/some/other/dir/libstdc++.so.6", true)]
    [InlineData("libz.so.1", false)]
    [InlineData("libc.so", false)]
    public void The_system_runtime_is_matched_by_name_or_file_name(string name, bool expected) =>
        Assert.Equal(expected, HostLibraryPolicy.Default.IsHostLibrary(name));

    [Fact]
    public void Options_add_their_host_libraries_and_only_to_their_own_policy()
    {
        var policy = HostLibraryPolicy.For(new LoadOptions { HostLibraries = [$"{SystemDir}/libz.so.1"] });
        Assert.True(policy.IsHostLibrary("libz.so.1"));
        Assert.True(policy.IsHostLibrary($"{SystemDir}/libz.so.1"));
        Assert.False(HostLibraryPolicy.Default.IsHostLibrary("libz.so.1"));
        Assert.Same(HostLibraryPolicy.Default, HostLibraryPolicy.For(new LoadOptions()));
    }

    [Fact]
    public void The_loaded_copy_of_a_runtime_library_is_the_one_the_kernel_shows()
    {
        string path = $"{SystemDir}/libm.so.6";
        var status = Stat(path);
        var host = HostLibraryPolicy.Default.FindLoadedCopy(status.Device, status.Inode, soName: null);

        Assert.NotNull(host);
        Assert.Equal(MapsBaseOf("/libm.so.6"), (ulong)host.Base + LowestLoadAddress(host));
        // By DT_SONAME alone (another file, say a copy) the answer is the same module.
        Assert.Same(host, HostLibraryPolicy.Default.FindLoadedCopy(0, 0, "libm.so.6"));
    }

    [Fact]
    public void Finding_a_copy_never_loads_the_library()
    {
        // A system library the test process has not loaded: named a host library, asked for, still not loaded.
        string? name = new[] { "libexpat.so.1", "libbz2.so.1", "liblzma.so.5", "libzstd.so.1" }
            .FirstOrDefault(n => File.Exists($"{SystemDir}/{n}") && MapsLineOf("/" + n) is null);
        Assert.True(name is not null, "every candidate library is already loaded in the test process, or none is installed");
        var policy = HostLibraryPolicy.For(new LoadOptions { HostLibraries = [name] });
        var status = Stat($"{SystemDir}/{name}");

        Assert.Null(policy.FindLoadedCopy(status.Device, status.Inode, name));
        Assert.Null(MapsLineOf("/" + name));
    }

    [Fact]
    public void The_global_scope_holds_exactly_the_host_libraries_the_process_has()
    {
        var scope = new LoaderContext().GetGlobalScope();
        Assert.Contains(scope, m => m.SoName == "libc.so.6");
        Assert.All(scope, m => Assert.True(HostLibraryPolicy.Default.IsHostLibrary(m.SoName ?? m.Path), m.Path));
        // The kernel's view: each of them is a file the process has mapped (by inode: maps shows real file names,
        // libstdc++.so.6.0.30 for libstdc++.so.6).
        var mappedInodes = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6).Select(f => ulong.Parse(f[4], System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        var hosts = HostModules.Enumerate();
        Assert.All(scope, m => Assert.Contains(hosts.Single(h => h.Base == m.BaseAddress && h.Path == m.Path).Inode, mappedInodes));
        Assert.Contains(scope, m => m.SoName == "libm.so.6");
    }

    /// <summary>The file's device and inode, as the mapper read them (the mapping is gone when this returns).</summary>
    private static FileIdentity Stat(string path)
    {
        using var image = ElfImage.Map(path);
        return image.File;
    }

    private static ulong LowestLoadAddress(HostModule host) =>
        host.ProgramHeaders.Where(p => p.Type == Loader.Elf.SegmentType.Load).Min(p => p.VirtualAddress) & ~(ulong)(Environment.SystemPageSize - 1);

    private static string? MapsLineOf(string pathSuffix) =>
        File.ReadLines("/proc/self/maps").FirstOrDefault(l => l.EndsWith(pathSuffix, StringComparison.Ordinal));

    private static ulong MapsBaseOf(string pathSuffix) =>
        Convert.ToUInt64(MapsLineOf(pathSuffix)!.Split('-')[0], 16);
}
