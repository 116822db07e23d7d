using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// What <c>dlclose</c> does not unload: a library marked <c>DF_1_NODELETE</c>, one opened with <c>RTLD_NODELETE</c>
/// (<see cref="LoadOptions.NoDelete"/>), and one whose <c>STB_GNU_UNIQUE</c> definition the namespace entered first —
/// each with what it needs. glibc is the oracle (<see cref="BindingProbe"/>): a kept library's counters in
/// <c>.data</c> go on after the last close and a new open, and <c>RTLD_NOLOAD</c> still finds it.
/// </summary>
public sealed class KeptLoadedTests
{
    private static string B(string name) => Fixtures.Path("binding/" + name);

    private static string[] CloseAndOpenAgain(string library, string open = "open") =>
    [
        open, "0", B(library), "call", "0", "count_calls", "call", "0", "dep_calls", "close", "0",
        "loaded", B(library), "loaded", B("libbind_keep_dep.so"),
        "open", "1", B(library), "call", "1", "count_calls", "call", "1", "dep_calls",
    ];

    [Fact]
    public void A_nodelete_library_and_its_dependency_stay_loaded_with_their_state_after_the_last_close()
    {
        var glibc = BindingProbe.AssertSameAsGlibc(CloseAndOpenAgain("libbind_nodelete.so"));
        Assert.Contains("call 1 count_calls = 2", glibc.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_the_flag_the_same_library_and_its_dependency_are_unloaded_at_the_last_close()
    {
        var glibc = BindingProbe.AssertSameAsGlibc(CloseAndOpenAgain("libbind_keep.so"));
        Assert.Contains("call 1 count_calls = 1", glibc.Transcript, StringComparison.Ordinal);
        Assert.Contains("loaded libbind_keep_dep.so = no", glibc.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public void Opened_with_no_delete_a_library_is_kept_as_rtld_nodelete_keeps_it()
    {
        var glibc = BindingProbe.AssertSameAsGlibc(CloseAndOpenAgain("libbind_keep.so", open: "keepopen"));
        Assert.Contains("call 1 count_calls = 2", glibc.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public void No_delete_on_a_second_open_keeps_a_library_already_loaded()
    {
        string[] script = ["open", "0", B("libbind_keep.so"), "call", "0", "count_calls", "keepopen", "1", B("libbind_keep.so"),
            "close", "0", "close", "1", "loaded", B("libbind_keep.so"), "open", "2", B("libbind_keep.so"), "call", "2", "count_calls"];
        var glibc = BindingProbe.AssertSameAsGlibc(script);
        Assert.Contains("loaded libbind_keep.so = yes", glibc.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public void The_library_whose_unique_definition_was_entered_first_stays_and_the_other_goes()
    {
        // b's reference to Counter<int>::value finds a's entry, so only a is kept.
        string[] script = ["open", "0", B("libbind_unique_a.so"), "open", "1", B("libbind_unique_b.so"),
            "close", "1", "loaded", B("libbind_unique_b.so"), "close", "0", "loaded", B("libbind_unique_a.so")];
        var glibc = BindingProbe.AssertSameAsGlibc(script);
        Assert.Contains("loaded libbind_unique_b.so = no", glibc.Transcript, StringComparison.Ordinal);
        Assert.Contains("loaded libbind_unique_a.so = yes", glibc.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dependents_load_that_enters_a_unique_definition_keeps_its_definer()
    {
        string[] script = ["open", "0", B("libbind_lone_unique.so"), "open", "1", B("libbind_lone_user.so"),
            "ptr", "0", "1", "lone_addr", "where", "0", "close", "1", "close", "0", "loaded", B("libbind_lone_unique.so")];
        var glibc = BindingProbe.AssertSameAsGlibc(script);
        Assert.Contains("loaded libbind_lone_unique.so = yes", glibc.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_load_drops_the_mark_its_relocation_made_on_a_library_loaded_before()
    {
        // The failing load's GLOB_DAT enters lone_unique (a pending mark on its definer), then its JUMP_SLOT to
        // vanished fails: the definer is not kept, and goes at its last close.
        string[] script = ["open", "0", B("libbind_lone_unique.so"), "open", "1", B("libbind_lone_user_fail.so"),
            "close", "0", "loaded", B("libbind_lone_unique.so")];
        var (loader, glibc) = BindingProbe.Compare(script);
        Assert.Equal(glibc.Transcript, loader.Transcript);
        Assert.Contains("open 1 failed", glibc.Transcript, StringComparison.Ordinal);
        Assert.Contains("loaded libbind_lone_unique.so = no", glibc.Transcript, StringComparison.Ordinal);
        BindingProbe.AssertSameUndefinedSymbol(glibc, loader);
    }

    [Fact]
    public void Looking_up_a_unique_definition_nobody_entered_keeps_its_library()
    {
        string[] script = ["open", "0", B("libbind_lone_unique.so"), "sym", "0", "0", "lone_unique", "close", "0",
            "loaded", B("libbind_lone_unique.so")];
        var glibc = BindingProbe.AssertSameAsGlibc(script);
        Assert.Contains("loaded libbind_lone_unique.so = yes", glibc.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public void A_unique_definition_nobody_looked_up_keeps_nothing()
    {
        string[] script = ["open", "0", B("libbind_lone_unique.so"), "close", "0", "loaded", B("libbind_lone_unique.so")];
        var glibc = BindingProbe.AssertSameAsGlibc(script);
        Assert.Contains("loaded libbind_lone_unique.so = no", glibc.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public void A_unique_definition_entered_through_a_dependency_keeps_the_dependency()
    {
        string[] script = ["open", "0", B("libbind_unique_root.so"), "close", "0",
            "loaded", B("libbind_unique_symdep.so"), "loaded", B("libbind_unique_root.so")];
        BindingProbe.AssertSameAsGlibc(script);
    }
}

/// <summary>Kept libraries as the context shows them, and the context's end, which unloads them too.</summary>
[Collection("AddressSpace")]
public sealed class KeptLoadedContextTests
{
    [Fact]
    public void A_kept_library_is_listed_as_such_and_goes_with_its_context()
    {
        var context = new LoaderContext();
        var library = context.Load(Fixtures.Path("binding/libbind_nodelete.so"));
        var range = library.ReservedRange;
        library.Dispose();

        var kept = context.LoadedLibraries;
        Assert.Contains(kept, l => l.Module.Path.EndsWith("libbind_nodelete.so", StringComparison.Ordinal) && l.NoDelete);
        Assert.Contains(kept, l => l.Module.Path.EndsWith("libbind_keep_dep.so", StringComparison.Ordinal) && !l.NoDelete);
        Assert.NotEmpty(ProcMaps.Covering(ProcMaps.Read(), (ulong)range.Start, (ulong)range.End));

        context.Dispose();
        Assert.DoesNotContain(ProcMaps.Read(), e => e.Overlaps((ulong)range.Start, (ulong)range.End));
    }

    [Fact]
    public void A_library_that_is_not_kept_is_unmapped_at_its_last_close()
    {
        using var context = new LoaderContext();
        var library = context.Load(Fixtures.Path("binding/libbind_keep.so"));
        var range = library.ReservedRange;
        Assert.All(context.LoadedLibraries, l => Assert.False(l.NoDelete));
        library.Dispose();
        Assert.Empty(context.LoadedLibraries);
        Assert.DoesNotContain(ProcMaps.Read(), e => e.Overlaps((ulong)range.Start, (ulong)range.End));
    }
}
