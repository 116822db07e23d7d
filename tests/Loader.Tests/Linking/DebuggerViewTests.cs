using System.Runtime.InteropServices;
using Loader.Linking;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// Loader's namespace in the debugger's <c>r_debug_extended.r_next</c> chain (<see cref="DebuggerView"/>), read back
/// from raw memory with the layouts of glibc's link.h, as gdb reads it.
/// </summary>
public sealed class DebuggerViewTests
{
    // struct r_debug_extended (x86_64): r_version, r_map, r_brk, r_state, r_ldbase, r_next.
    private const int RVersion = 0, RMap = 8, RBrk = 16, RState = 24, RNext = 40;

    // The public head of struct link_map: l_addr, l_name, l_ld, l_next, l_prev.
    private const int LAddr = 0, LName = 8, LLd = 16, LNext = 24, LPrev = 32;

    private sealed record Entry(nint Address, nint LoadBias, string? Name, nint Dynamic, nint Previous);

    private sealed record DebugNode(nint Address, int Version, nint Brk, int State, nint Map);

    [Fact]
    public void The_chain_starts_at_glibcs_own_r_debug()
    {
        // DT_DEBUG of the main program and ld.so's _r_debug (found in the global scope) are the same object here: the
        // test host has no copy of it.
        Assert.Equal(NativeLibrary.GetExport(NativeLibrary.GetMainProgramHandle(), "_r_debug"), DebuggerView.GlibcDebug());
    }

    [Fact]
    public void A_loaded_library_is_listed_at_its_bias_with_its_path_and_dynamic_section_until_it_is_unloaded()
    {
        string path = Fixtures.Path("basic.so");
        ulong dynamicAddress = Readelf.ReadAll(path).Sections!.Single(s => s.Name == ".dynamic").Address;
        nint bias;
        using (var library = new LoaderContext().Load(path))
        {
            bias = library.BaseAddress;
            var (chain, entries) = ReadOurs();
            var head = chain[0];
            var ours = chain.Single(n => n.Address == DebuggerView.Node);
            Assert.Equal(2, head.Version); // so a debugger follows r_next
            Assert.Equal((2, head.Brk, 0), (ours.Version, ours.Brk, ours.State));
            Assert.NotEqual(0, ours.Brk);
            var entry = Assert.Single(entries, e => e.LoadBias == bias);
            Assert.Equal(path, entry.Name);
            Assert.Equal((nint)((ulong)bias + dynamicAddress), entry.Dynamic);
            AssertLinked(entries);
        }

        var (_, after) = ReadOurs();
        Assert.DoesNotContain(after, e => e.LoadBias == bias);
        AssertLinked(after);
    }

    [Fact]
    public void Unloading_from_the_middle_keeps_every_l_prev_exact_across_contexts()
    {
        var first = new LoaderContext().Load(Fixtures.Path("hash_sysv.so"));
        var middle = new LoaderContext().Load(Fixtures.Path("hash_gnu.so"));
        var last = new LoaderContext().Load(Fixtures.Path("hash_both.so"));
        try
        {
            var (_, before) = ReadOurs();
            int i = before.FindIndex(e => e.LoadBias == first.BaseAddress), j = before.FindIndex(e => e.LoadBias == middle.BaseAddress);
            int k = before.FindIndex(e => e.LoadBias == last.BaseAddress);
            Assert.True(i >= 0 && i < j && j < k, $"listed in load order: {i}, {j}, {k}"); // one list for every context
            middle.Dispose();
            var (_, after) = ReadOurs();
            Assert.DoesNotContain(after, e => e.LoadBias == middle.BaseAddress);
            Assert.Contains(after, e => e.LoadBias == first.BaseAddress);
            Assert.Contains(after, e => e.LoadBias == last.BaseAddress);
            AssertLinked(after);
        }
        finally
        {
            first.Dispose();
            middle.Dispose();
            last.Dispose();
        }
    }

    [Fact]
    public void An_image_mapped_from_memory_is_not_listed_because_no_file_holds_its_symbols()
    {
        using var fromFile = new LoaderContext().Load(Fixtures.Path("basic.so"));
        using var fromMemory = new LoaderContext().Load(File.ReadAllBytes(Fixtures.Path("basic.so")), "basic.so");
        var (_, entries) = ReadOurs();
        Assert.Contains(entries, e => e.LoadBias == fromFile.BaseAddress);
        Assert.DoesNotContain(entries, e => e.LoadBias == fromMemory.BaseAddress);
    }

    [Fact]
    public void A_load_that_fails_after_mapping_leaves_no_entry_behind()
    {
        // Copies at paths of their own, so no other test's load of the same fixtures can be mistaken for a leftover.
        string dir = Directory.CreateTempSubdirectory("loader-debugger-view-").FullName;
        try
        {
            string user = Path.Combine(dir, "libbind_hidden_user.so"), dependency = Path.Combine(dir, "libbind_hidden_dep.so");
            File.Copy(Fixtures.Path("binding/libbind_hidden_user.so"), user);
            File.Copy(Fixtures.Path("binding/libbind_hidden_dep.so"), dependency);

            // Both are mapped (and listed) before relocation finds secret_value hidden; the rollback unlists both.
            Assert.ThrowsAny<LoaderException>(() => new LoaderContext().Load(user));
            var (_, entries) = ReadOurs();
            Assert.DoesNotContain(entries, e => e.Name == user || e.Name == dependency);
            AssertLinked(entries);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("2.36", true)]
    [InlineData("2.35", true)]
    [InlineData("3.0", true)]
    [InlineData("2.34", false)]
    [InlineData("2.17", false)]
    [InlineData("garbage", false)]
    [InlineData("2.35.1", true)]
    [InlineData("10.1", true)]
    [InlineData("2.100", true)]
    [InlineData("2", false)]
    [InlineData("2.", false)]
    [InlineData("", false)]
    [InlineData("2.3x", false)]
    public void Only_glibc_2_35_and_later_have_r_next(string version, bool expected) =>
        Assert.Equal(expected, DebuggerView.HasRNext(version));

    /// <summary>Each entry's l_prev is the one before it (the first's is null): gdb stops at the first that is not.</summary>
    private static void AssertLinked(List<Entry> entries)
    {
        for (int i = 0; i < entries.Count; i++)
            Assert.Equal(i == 0 ? 0 : entries[i - 1].Address, entries[i].Previous);
    }

    /// <summary>The r_next chain from glibc's r_debug, and the link_map list of our node, read under the view's lock
    /// (other tests load and unload meanwhile, and an entry is freed when it is unlisted).</summary>
    private static (List<DebugNode> Chain, List<Entry> Entries) ReadOurs() => DebuggerView.WhileLocked(() =>
    {
        var chain = new List<DebugNode>();
        for (nint node = DebuggerView.GlibcDebug(); node != 0 && chain.Count < 64; node = Marshal.ReadIntPtr(node, RNext))
        {
            chain.Add(new DebugNode(node, Marshal.ReadInt32(node, RVersion), Marshal.ReadIntPtr(node, RBrk),
                Marshal.ReadInt32(node, RState), Marshal.ReadIntPtr(node, RMap)));
        }
        Assert.Contains(chain, n => n.Address == DebuggerView.Node);
        var entries = new List<Entry>();
        for (nint map = chain.Single(n => n.Address == DebuggerView.Node).Map; map != 0 && entries.Count < 100_000; map = Marshal.ReadIntPtr(map, LNext))
        {
            entries.Add(new Entry(map, Marshal.ReadIntPtr(map, LAddr), Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(map, LName)),
                Marshal.ReadIntPtr(map, LLd), Marshal.ReadIntPtr(map, LPrev)));
        }
        return (chain, entries);
    });
}
