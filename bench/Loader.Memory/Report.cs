using System.Globalization;

namespace Loader.Memory;

/// <summary>The printed comparison: a Markdown table of every side, Loader's managed figures, and the account by region.</summary>
internal static class Report
{
    public static void Print(TextWriter output, string title, int files, HolderResult glibc, IReadOnlyList<HolderResult> loaders)
    {
        var ci = CultureInfo.InvariantCulture;
        output.WriteLine();
        output.WriteLine($"## {title} ({files} files)");
        output.WriteLine();
        output.WriteLine("| side | loaded | failed | images mapped | RSS before | RSS after | growth | anon | file | shmem | growth / glibc's |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        long glibcGrowth = Math.Max(1, glibc.After!.VmRss - glibc.Before!.VmRss);
        Row(output, glibc.Side, glibc, glibc.After!, glibcGrowth);
        foreach (var loader in loaders)
        {
            Row(output, loader.Side, loader, loader.After!, glibcGrowth);
            Row(output, loader.Side + ", after a full GC", loader, loader.AfterCollect!, glibcGrowth);
        }
        output.WriteLine();
        output.WriteLine("| Loader, managed | " + string.Join(" | ", loaders.Select(l => l.Side)) + " |");
        output.WriteLine("|---|" + string.Concat(loaders.Select(_ => "---:|")));
        Figures(output, "retained per library (GC.GetTotalMemory(true) growth / loaded)", loaders, f => string.Format(ci, "{0:N0} B", f["retained_per_library"]));
        Figures(output, "managed heap, live: before → after", loaders, f => $"{Mb(f["managed_before"])} → {Mb(f["managed_after"])}");
        Figures(output, "allocated during the loads", loaders, f => Mb(f["allocated_during_loads"]));
        Figures(output, "warm-up stages (50 loads and unloads, 1 s pause; until one compiles nothing)", loaders,
            f => f["warm_up_stages"] == 0 ? "none (cold)" : f["warm_up_stages"].ToString(ci));
        Figures(output, "methods the JIT compiled during the loads and the pause after them", loaders,
            f => f["jit_compiled_during_loads"].ToString("N0", ci));
        // GCMemoryInfo describes the last collection, so a figure read right after the loads (which need not collect)
        // would be the one before them: only the two samples taken after a collection are shown.
        Figures(output, "GC committed: before → after a full GC", loaders,
            f => $"{Mb(f["gc_committed_before"])} → {Mb(f["gc_committed_after_collect"])}");
        output.WriteLine();
        output.WriteLine("RSS by region, MB: before → after (growth); Loader's after a full GC");
        output.WriteLine();
        output.WriteLine("| region | glibc | " + string.Join(" | ", loaders.Select(l => l.Side)) + " |");
        output.WriteLine("|---|---:|" + string.Concat(loaders.Select(_ => "---:|")));
        var glibcBefore = RegionAccount.Classify(glibc.Before!, glibc.Images);
        var glibcAfter = RegionAccount.Classify(glibc.After!, glibc.Images);
        var loaderBefore = loaders.Select(l => RegionAccount.Classify(l.Before!, l.Images)).ToList();
        var loaderAfter = loaders.Select(l => RegionAccount.Classify(l.AfterCollect!, l.Images)).ToList();
        foreach (string region in RegionAccount.Order)
            output.WriteLine($"| {region} | {Change(glibcBefore[region], glibcAfter[region])} | "
                + string.Join(" | ", loaders.Select((_, i) => Change(loaderBefore[i][region], loaderAfter[i][region]))) + " |");
        output.WriteLine($"| total (sum of smaps Rss) | {Change(glibcBefore.Values.Sum(), glibcAfter.Values.Sum())} | "
            + string.Join(" | ", loaders.Select((_, i) => Change(loaderBefore[i].Values.Sum(), loaderAfter[i].Values.Sum()))) + " |");
        FileGrowth(output, glibc, loaders);
    }

    /// <summary>The mapped files whose resident pages grew most on any side (the runtime's pages a first load touches,
    /// libraries loaded on the way): the file rows of the region table, file by file.</summary>
    private static void FileGrowth(TextWriter output, HolderResult glibc, IReadOnlyList<HolderResult> loaders)
    {
        const int Shown = 10;
        var sides = new[] { glibc }.Concat(loaders).ToList();
        var before = sides.Select(s => RegionAccount.ByFile(s.Before!, s.Images)).ToList();
        var after = sides.Select((s, i) => RegionAccount.ByFile(i == 0 ? s.After! : s.AfterCollect!, s.Images)).ToList();
        long Growth(int side, string path) => after[side].GetValueOrDefault(path) - before[side].GetValueOrDefault(path);
        var paths = after.SelectMany(a => a.Keys).Concat(before.SelectMany(b => b.Keys)).Distinct()
            .Select(path => (Path: path, Largest: Enumerable.Range(0, sides.Count).Max(side => Growth(side, path))))
            .Where(p => p.Largest > 0).OrderByDescending(p => p.Largest).Take(Shown).ToList();
        if (paths.Count == 0)
            return;
        output.WriteLine();
        output.WriteLine($"Mapped files (outside the images) whose resident pages grew most, MB (the {Shown} largest)");
        output.WriteLine();
        output.WriteLine("| file | glibc | " + string.Join(" | ", loaders.Select(l => l.Side)) + " |");
        output.WriteLine("|---|---:|" + string.Concat(loaders.Select(_ => "---:|")));
        foreach (var (path, _) in paths)
            output.WriteLine($"| {path} | " + string.Join(" | ", Enumerable.Range(0, sides.Count)
                .Select(side => string.Format(CultureInfo.InvariantCulture, "{0:+0.00;-0.00;0.00}", Growth(side, path) / 1e6))) + " |");
    }

    private static void Figures(TextWriter output, string name, IReadOnlyList<HolderResult> loaders, Func<Dictionary<string, long>, string> format) =>
        output.WriteLine($"| {name} | " + string.Join(" | ", loaders.Select(l => format(l.Figures))) + " |");

    private static void Row(TextWriter output, string name, HolderResult side, MemorySample after, long glibcGrowth)
    {
        long growth = after.VmRss - side.Before!.VmRss;
        output.WriteLine($"| {name} | {side.Loaded} | {side.Failed} | {side.Images.Count} | {Mb(side.Before.VmRss)} | {Mb(after.VmRss)} | **{Mb(growth, "0.00")}** | "
            + $"{Mb(after.RssAnon - side.Before.RssAnon)} | {Mb(after.RssFile - side.Before.RssFile)} | {Mb(after.RssShmem - side.Before.RssShmem)} | "
            + string.Format(CultureInfo.InvariantCulture, "{0:0.000}×", (double)growth / glibcGrowth) + " |");
    }

    // The growth to a hundredth of a MB (VmRSS is counted in kB) and its ratio to a thousandth: the sides can differ by
    // less than the 0.1 MB the other columns show.
    private static string Mb(long bytes, string format = "0.0") =>
        string.Format(CultureInfo.InvariantCulture, "{0:" + format + "} MB", bytes / 1e6);

    private static string Change(long before, long after) =>
        string.Format(CultureInfo.InvariantCulture, "{0:0.0} → {1:0.0} ({2:+0.0;-0.0;0.0})", before / 1e6, after / 1e6, (after - before) / 1e6);
}
