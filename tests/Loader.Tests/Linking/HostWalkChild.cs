using System.Globalization;
using Loader.Linking;
using Loader.Native;

namespace Loader.Tests.Linking;

/// <summary>
/// <c>host-walk-after-carriers PATH...</c>: loads each TLS library PATH in a context of its own (each load dlopens a
/// TLS carrier, so glibc's list of objects changes), walking the host's modules after each; prints, for the last
/// walk, <c>walk ALLOCATED SAME_LIST CARRIERS_LISTED GLIBC_CARRIERS WALKS</c>: the bytes that walk allocated, whether it
/// returned the list the walk before returned, how many of Loader's carriers it lists as host modules, how many
/// objects glibc's own <c>dl_iterate_phdr</c> lists under a carrier's /proc/PID/fd name, and how many times the last
/// load and the walk after it read glibc's whole list.
/// </summary>
public static class HostWalkChild
{
    public const string Scenario = "host-walk-after-carriers";

    public static int Run(string[] paths)
    {
        var held = new List<ElfLibrary>();
        IReadOnlyList<HostModule> before = HostModules.Enumerate();
        long allocated = 0, walks = 0;
        IReadOnlyList<HostModule> after = before;
        foreach (string path in paths)
        {
            before = HostModules.Enumerate();
            long walksBefore = HostModules.Walks;
            // Its TLS carrier is dlopened during the load: asked for, since Loader serves a dynamic block itself by default.
            held.Add(new LoaderContext().Load(path, new LoadOptions { ServeDynamicTls = false }));
            long start = GC.GetAllocatedBytesForCurrentThread();
            after = HostModules.Enumerate();
            allocated = GC.GetAllocatedBytesForCurrentThread() - start;
            walks = HostModules.Walks - walksBefore;
        }
        string carrierPrefix = $"/proc/{Environment.ProcessId}/fd/";
        int listed = after.Count(m => m.Path.StartsWith(carrierPrefix, StringComparison.Ordinal));
        // The TLS server's own static slot is a carrier too (made by the first TLSDESC load): not one of these loads'.
        int glibc = DynamicLinker.IterateObjects().Count(o => o.Name.StartsWith(carrierPrefix, StringComparison.Ordinal)
            && new FileInfo(o.Name).LinkTarget?.Contains("loader-tls:" + ServedTlsBlock.TableSlotName, StringComparison.Ordinal) != true);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"walk {allocated} {ReferenceEquals(before, after)} {listed} {glibc} {walks}"));
        GC.KeepAlive(held);
        return 0;
    }
}
