using System.Globalization;

namespace Loader.Memory;

/// <summary>The printed comparison: a Markdown table of both sides, Loader's managed figures, and the account by region.</summary>
internal static class Report
{
    public static void Print(TextWriter output, string title, int files, HolderResult loader, HolderResult glibc)
    {
        var ci = CultureInfo.InvariantCulture;
        output.WriteLine();
        output.WriteLine($"## {title} ({files} files)");
        output.WriteLine();
        output.WriteLine("| side | loaded | failed | RSS before | RSS after | growth | anon | file | shmem |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        Row(output, "glibc dlopen", glibc, glibc.After!);
        Row(output, "Loader", loader, loader.After!);
        Row(output, "Loader, after a full GC", loader, loader.AfterCollect!);
        double ratio = (double)Growth(loader.After!, loader) / Math.Max(1, Growth(glibc.After!, glibc));
        double ratioCollected = (double)Growth(loader.AfterCollect!, loader) / Math.Max(1, Growth(glibc.After!, glibc));
        output.WriteLine();
        output.WriteLine(string.Format(ci, "RSS growth, Loader / glibc: **{0:0.00}×** (after a full GC: {1:0.00}×)", ratio, ratioCollected));
        output.WriteLine();
        var f = loader.Figures;
        output.WriteLine("| Loader, managed | |");
        output.WriteLine("|---|---:|");
        output.WriteLine($"| retained per library (GC.GetTotalMemory(true) growth / loaded) | {f["retained_per_library"]:N0} B |");
        output.WriteLine($"| managed heap before → after (live) | {Mb(f["managed_before"])} → {Mb(f["managed_after"])} |");
        output.WriteLine($"| allocated during the loads | {Mb(f["allocated_during_loads"])} |");
        output.WriteLine($"| GC committed: before → after the loads → after a full GC | {Mb(f["gc_committed_before"])} → {Mb(f["gc_committed_after_loads"])} → {Mb(f["gc_committed_after_collect"])} |");
        output.WriteLine();
        output.WriteLine("RSS by region (MB): before → after (growth)");
        output.WriteLine();
        output.WriteLine("| region | glibc | Loader | Loader, after a full GC |");
        output.WriteLine("|---|---:|---:|---:|");
        var glibcBefore = RegionAccount.Classify(glibc.Before!, glibc.Images);
        var glibcAfter = RegionAccount.Classify(glibc.After!, glibc.Images);
        var loaderBefore = RegionAccount.Classify(loader.Before!, loader.Images);
        var loaderAfter = RegionAccount.Classify(loader.After!, loader.Images);
        var loaderCollected = RegionAccount.Classify(loader.AfterCollect!, loader.Images);
        foreach (string region in RegionAccount.Order)
            output.WriteLine($"| {region} | {Change(glibcBefore[region], glibcAfter[region])} | {Change(loaderBefore[region], loaderAfter[region])} | {Change(loaderBefore[region], loaderCollected[region])} |");
        output.WriteLine($"| total (sum of smaps Rss) | {Change(glibcBefore.Values.Sum(), glibcAfter.Values.Sum())} | {Change(loaderBefore.Values.Sum(), loaderAfter.Values.Sum())} | {Change(loaderBefore.Values.Sum(), loaderCollected.Values.Sum())} |");
        output.WriteLine();
        output.WriteLine($"images: glibc {glibc.Images.Count} objects it mapped for the set, Loader {loader.Images.Count} images (one copy of each dependency per context)");
    }

    private static long Growth(MemorySample after, HolderResult side) => after.VmRss - side.Before!.VmRss;

    private static void Row(TextWriter output, string name, HolderResult side, MemorySample after) =>
        output.WriteLine($"| {name} | {side.Loaded} | {side.Failed} | {Mb(side.Before!.VmRss)} | {Mb(after.VmRss)} | **{Mb(after.VmRss - side.Before.VmRss)}** | {Mb(after.RssAnon - side.Before.RssAnon)} | {Mb(after.RssFile - side.Before.RssFile)} | {Mb(after.RssShmem - side.Before.RssShmem)} |");

    private static string Mb(long bytes) => string.Format(CultureInfo.InvariantCulture, "{0:0.0} MB", bytes / 1e6);

    private static string Change(long before, long after) =>
        string.Format(CultureInfo.InvariantCulture, "{0:0.0} → {1:0.0} ({2:+0.0;-0.0;0.0})", before / 1e6, after / 1e6, (after - before) / 1e6);
}
