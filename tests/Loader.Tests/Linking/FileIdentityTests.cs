using Loader.Tests.Cli;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// A load identifies its file once it has mapped it (the mapper's one <c>fstat</c>): a file the context already has
/// under another path is that module, and the mapping made meanwhile is undone — the kernel's
/// <c>/proc/self/maps</c> is the oracle that nothing of it is left. A path the context mapped before is matched by
/// name, as glibc matches its link maps' names, before anything is opened.
/// </summary>
public sealed class FileIdentityTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("loader-identity-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void The_same_file_under_another_path_is_the_module_already_loaded_and_its_second_mapping_is_undone()
    {
        string file = Path.Combine(_directory, "libz-copy.so");
        File.Copy(CliHarness.LibZ, file);
        string link = Path.Combine(_directory, "libz-link.so");
        File.CreateSymbolicLink(link, file);
        using var context = new LoaderContext();

        using var first = context.Load(file);
        var mappedOnce = MappingsOf(file);
        using var second = context.Load(link);

        Assert.Equal(first.BaseAddress, second.BaseAddress);
        Assert.Equal(2, context.LoadedLibraries.Single().ReferenceCount);
        Assert.NotEmpty(mappedOnce);
        // The kernel shows the file (by its real path) mapped exactly where the first load put it, nowhere else.
        Assert.Equal(mappedOnce, MappingsOf(file));
        Assert.All(MappingsOf(file), e => Assert.True(e.Start >= (ulong)first.ReservedRange.Start
            && e.End <= (ulong)first.ReservedRange.Start + first.ReservedRange.Length, e.ToString()));
        Assert.DoesNotContain(file, ProcFds.Targets()); // the second descriptor is closed too
    }

    [Fact]
    public void The_same_path_twice_is_one_image_unmapped_with_its_last_handle()
    {
        // The second load is found by name, without opening the file.
        string file = Path.Combine(_directory, "libz-again.so");
        File.Copy(CliHarness.LibZ, file);
        using var context = new LoaderContext();

        var first = context.Load(file);
        var second = context.Load(file);
        Assert.Equal(first.BaseAddress, second.BaseAddress);
        first.Dispose();
        Assert.NotEmpty(MappingsOf(file)); // one handle is still open: the image stays mapped
        second.Dispose();
        Assert.Empty(MappingsOf(file));
    }

    private static List<MapsEntry> MappingsOf(string path) => [.. ProcMaps.Read().Where(e => e.Path == path)];
}
