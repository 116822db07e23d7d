using Loader.Cli.Commands;

namespace Loader.Cli.Rendering;

/// <summary><c>loader share</c> for people: the sharing, one row per process, the memory saved.</summary>
internal static class ShareText
{
    public static void Write(TextWriter output, ShareReport report)
    {
        var writer = report.Processes[0];
        output.WriteLine($"{report.File}{(report.SoName is null ? "" : $" ({report.SoName})")}: RELRO {MappingNames.Bytes(report.RelroSize)} " +
            $"({report.RelroSize / report.PageSize} pages) at 0x{writer.RelroStart:x}, written to {Medium(report, writer)}");
        output.WriteLine(report.AslrDisabled
            ? "ASLR: off in every process (setarch -R): host libraries lie at the same addresses, so pointers to them match too"
            : "ASLR: on: host libraries (libc) lie elsewhere in each process, so RELRO pages holding pointers to them stay private (run under setarch -R to share them too)");
        output.WriteLine();

        var table = new TextTable(new Column("process"), new Column("pid", Align.Right), new Column("base"), new Column("shared", Align.Right),
            new Column("private", Align.Right), new Column("Rss", Align.Right), new Column("Shared_Clean", Align.Right),
            new Column("Shared_Dirty", Align.Right), new Column("Private_Dirty", Align.Right), new Column("export", Shrinks: true));
        int user = 0;
        foreach (var p in report.Processes)
        {
            string name = p.Role == "writer" ? "writer" : $"user {++user}";
            if (p.Error is not null && p.RelroEnd == 0)
            {
                table.Add(name, p.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-", "-", "-", "-", "-", "-", "-", "failed: " + p.Error);
                continue;
            }
            var m = p.Memory;
            table.Add(name, p.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), $"0x{p.BaseAddress:x}",
                $"{p.PagesShared}", $"{p.PagesPrivate}", Size(m?.Rss), Size(m?.SharedClean), Size(m?.SharedDirty), Size(m?.PrivateDirty),
                p.Error is not null ? "failed: " + p.Error
                : p.ExportAddress is { } address ? $"{report.Export} 0x{address:x}{(p.CallResult is null ? "" : " = " + p.CallResult)}" : "-");
        }
        table.Write(output);
        output.WriteLine();
        foreach (var (p, index) in report.Processes.Select((p, i) => (p, i)).Where(x => x.p.Role == "user"))
        {
            if (!p.Claimed && p.WhyNot is not null)
                output.WriteLine($"user {index}: loaded elsewhere without sharing: {p.WhyNot}");
            else if (p.Note is not null && p.PagesPrivate > 0)
                output.WriteLine($"user {index}: {p.Note}");
        }
        int users = report.Processes.Count - 1;
        output.WriteLine($"saved: {MappingNames.Bytes(report.SavedBytes)} in {users} user process{(users == 1 ? "" : "es")} " +
            $"({MappingNames.Bytes(report.SavedPerUser)} per process): RELRO pages mapped from the writer's file instead of private copies");
        if (report.Medium != "file")
            output.WriteLine("(pages written into a memfd or shm object stay dirty in the page cache, since tmpfs has no writeback: smaps counts them Shared_Dirty; --file shares clean pages)");
    }

    private static string Medium(ShareReport report, ShareProcess writer) =>
        report.Medium switch
        {
            "shm" => $"the shm object {report.ShmName}",
            "file" => $"the file {report.ShmName}",
            _ => "a memfd",
        } + (writer.Sealed ? ", sealed" : ", not sealed");

    private static string Size(ulong? bytes) => bytes is { } b ? MappingNames.Bytes(b) : "-";
}
