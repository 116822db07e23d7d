using System.Globalization;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// What a loaded library keeps alive (docs/benchmarks.md, "Memory held"): loading and unloading does not leak, and
/// what a held library retains of the managed heap is small and does not grow with its symbol or relocation count.
/// Each figure is taken in a child process (<see cref="MemoryHeldChild"/>), where nothing else allocates.
/// </summary>
public sealed class MemoryHeldTests
{
    private const int Warmup = 200, Cycles = 1000, Window = 200;

    /// <summary>A leak of 1 KB per cycle moves the last window's mean 800 KB above the first's (their centres are
    /// 800 cycles apart); half of that is the tolerance.</summary>
    private const long Tolerance = 400 * 1024;

    /// <summary>
    /// The bound on the managed bytes a held library retains, per image its load mapped, its context included: issue
    /// 14's target is 4 KB; bounded at 1.75 KB so that what was taken off stays off. Measured (session 9): libz 1,536 B,
    /// libsqlite3 1,585 B, libxml2 1,582 B an image (5 with a context each), 1,676 B an image for 39 different images in
    /// one context (session 8: 1,630, 1,647, 1,701 and 1,699 B, before the writable ranges and the DT_NEEDED names went;
    /// session 7: 2,278, 2,377, 2,322 and 2,239 B, before an image's tables shared one string table and
    /// view and its objects were folded; 12–14 KB, and growing 8 bytes a symbol, at first): the host modules and the
    /// global scope are the process's, the plan is values, the mapping steps are listed again from it, the program
    /// headers, the dynamic section and the version chains are read in place, names are interned
    /// (docs/architecture.md, "What a loaded image keeps").
    /// </summary>
    private const long RetainedBoundPerImage = 1792;

    [Fact]
    public void A_thousand_loads_and_unloads_leave_the_managed_heap_and_RSS_without_a_growth_trend()
    {
        // Tiered compilation off in the child: with it, the runtime recompiles hot methods when their call counts say
        // so, at moments that vary from run to run, and each recompilation adds code pages (steps of 1–3 MB seen
        // between the windows); that is the JIT's, not a per-cycle cost, and it hid what this test looks for.
        var samples = Run(NoTiering, MemoryHeldChild.LoadUnloadCycles, SystemLibraries.Require("libsqlite3.so.0"), Warmup.ToString(CultureInfo.InvariantCulture),
            Cycles.ToString(CultureInfo.InvariantCulture))
            .Where(line => line.StartsWith("sample ", StringComparison.Ordinal))
            .Select(line => line.Split(' '))
            .Select(parts => (Managed: long.Parse(parts[1], CultureInfo.InvariantCulture), Rss: long.Parse(parts[2], CultureInfo.InvariantCulture)))
            .ToList();
        Assert.Equal(Cycles, samples.Count);

        double firstManaged = samples.Take(Window).Average(s => s.Managed), lastManaged = samples.TakeLast(Window).Average(s => s.Managed);
        double firstRss = samples.Take(Window).Average(s => s.Rss), lastRss = samples.TakeLast(Window).Average(s => s.Rss);
        Assert.True(lastManaged - firstManaged < Tolerance,
            $"managed heap: mean {firstManaged:N0} B over the first {Window} cycles after warm-up, {lastManaged:N0} B over the last {Window}");
        Assert.True(lastRss - firstRss < Tolerance,
            $"RSS: mean {firstRss:N0} B over the first {Window} cycles after warm-up, {lastRss:N0} B over the last {Window}");
    }

    [Theory]
    [InlineData("libz.so.1")]       // 80 relocations, 125 dynamic symbols
    [InlineData("libsqlite3.so.0")] // 2,963 relocations, 1,479 dynamic symbols
    [InlineData("libxml2.so.2")]    // 1,917 dynamic symbols, needs libicuuc, libicudata, liblzma and libz
    public void A_held_library_retains_at_most_the_bound_of_managed_memory(string soname)
    {
        var (retained, images) = Retained(soname);
        Assert.True(images >= 1, $"{soname}: no image mapped");
        Assert.True(retained <= RetainedBoundPerImage * images,
            $"{soname}: {retained:N0} B of managed heap retained per held library ({images} image(s) each); the bound is {RetainedBoundPerImage:N0} B per image");
    }

    /// <summary>
    /// Many different libraries held in one context (what a process that loads a few dozen libraries does, and what the
    /// memory bench's system set does with 457): what each image retains stays under the same bound, so nothing the
    /// namespace keeps grows with the number of different libraries it holds (the unique-symbol table, the edges and
    /// their search attempts, the scopes) beyond it. The libraries .ci/run installs, with their dependencies: a few
    /// dozen images (libcurl alone brings about twenty).
    /// </summary>
    [Fact]
    public void Many_different_libraries_in_one_context_retain_at_most_the_bound_per_image()
    {
        string[] paths = [.. SystemLibraries.Packages.Keys.Order(StringComparer.Ordinal).Select(SystemLibraries.Require)];
        string line = Assert.Single(Run(null, [MemoryHeldChild.RetainedInOneContext, .. paths]),
            l => l.StartsWith("retained ", StringComparison.Ordinal));
        var parts = line.Split(' ');
        long retained = long.Parse(parts[1], CultureInfo.InvariantCulture);
        int images = int.Parse(parts[2], CultureInfo.InvariantCulture);
        Assert.True(images >= 2 * paths.Length, $"{images} images for {paths.Length} libraries: their dependencies were not mapped");
        Assert.True(retained <= RetainedBoundPerImage,
            $"{retained:N0} B of managed heap retained per image, {images} images in one context; the bound is {RetainedBoundPerImage:N0} B");
    }

    [Fact]
    public void What_a_held_library_retains_does_not_grow_with_its_symbols_and_relocations()
    {
        long small = Retained("libz.so.1").Bytes, large = Retained("libsqlite3.so.0").Bytes;
        // libsqlite3 has 12 times libz's dynamic symbols and 37 times its relocations: anything kept per symbol or per
        // relocation (8 bytes a symbol would be 12 KB) shows as a difference far above a few small tables' sizes; they
        // retain the same within a few dozen bytes now.
        Assert.True(large - small < 1024, $"retained per library: libz.so.1 {small:N0} B, libsqlite3.so.0 {large:N0} B");
    }

    private static (long Bytes, int Images) Retained(string soname)
    {
        string line = Assert.Single(Run(null, MemoryHeldChild.RetainedPerLibrary, "200", SystemLibraries.Require(soname)),
            l => l.StartsWith("retained ", StringComparison.Ordinal));
        var parts = line.Split(' ');
        return (long.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    private static readonly Dictionary<string, string?> NoTiering = new() { ["DOTNET_TieredCompilation"] = "0" };

    private static string[] Run(IReadOnlyDictionary<string, string?>? environment, params string[] arguments)
    {
        var run = ChildProcess.Run("dotnet", [typeof(MemoryHeldTests).Assembly.Location, .. arguments], environment,
            timeout: TimeSpan.FromMinutes(5));
        Assert.True(run.ExitCode == 0, $"child {string.Join(' ', arguments)} exited {run.ExitCode}: {run.Stderr}");
        return run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
