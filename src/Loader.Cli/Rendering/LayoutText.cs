using Loader.Cli.Commands;

namespace Loader.Cli.Rendering;

/// <summary>
/// <c>loader layout</c>'s text: a summary (reservation, RELRO, .bss, gaps), then one row per region with its sections
/// and the /proc/self/maps line the kernel wrote for it underneath, and whether the two agree.
/// </summary>
internal static class LayoutText
{
    private const string Agrees = "✓ agrees";

    public static void Write(TextWriter w, LayoutReport r, string? svgPath)
    {
        w.WriteLine($"{System.IO.Path.GetFileName(r.File)}: mapped by ElfImage.Map (nothing of the library ran); /proc/self/maps read while mapped");
        var summary = TextTable.KeyValue();
        summary.Add("file", r.File + (r.SoName is null ? "" : $" (SONAME {r.SoName})"));
        if (r.HostCopyBase is { } hostBase)
            summary.Add("host", $"a system runtime library: ElfLibrary.Load (and deps, bind, call) take the process's own copy at 0x{hostBase:x}; this is a separate mapping, made only to be shown");
        else if (r.HostLibrary)
            summary.Add("host", "a system runtime library: ElfLibrary.Load (and deps, bind, call) take the process's own copy, which this process has not loaded (a load would dlopen it); this is a separate mapping, made only to be shown");
        summary.Add("reserved", $"{MappingNames.Range(r.ReservedStart, r.ReservedEnd)}  0x{r.ReservedSize:x} bytes ({MappingNames.Bytes(r.ReservedSize)}, {r.ReservedSize / r.PageSize} pages)");
        summary.Add("base", $"0x{r.BaseAddress:x} (load bias: PT_LOAD i starts at base + p_vaddr), aligned to 0x{r.Alignment:x}");
        if (r.Tls is { } tls)
            summary.Add("TLS", $"template {MappingNames.Range(tls.ImageStart, tls.ImageEnd)} (.tdata 0x{tls.ImageEnd - tls.ImageStart:x} bytes): " +
                $"every thread gets its own 0x{tls.BlockSize:x}-byte block, aligned 0x{tls.Alignment:x}, from glibc when the library is loaded");
        if (r.Relro is { } relro)
        {
            summary.Add("RELRO", relro.End > relro.Start
                ? $"{MappingNames.Range(relro.Start, relro.End)} {(relro.Applied ? "made read-only" : "not yet read-only")}: PT_GNU_RELRO " +
                  $"[base+0x{relro.SegmentStart - r.BaseAddress:x}, base+0x{relro.SegmentEnd - r.BaseAddress:x}) rounded down to whole pages"
                  + (relro.SharedPages > 0 ? $"; {relro.SharedPages} page(s) shared, mapped MAP_SHARED from {relro.SharedFrom}" : "")
                : $"PT_GNU_RELRO [base+0x{relro.SegmentStart - r.BaseAddress:x}, base+0x{relro.SegmentEnd - r.BaseAddress:x}) covers no whole page: nothing to protect");
        }
        else
        {
            summary.Add("RELRO", "none (no PT_GNU_RELRO)");
        }
        if (r.Bss.Count == 0)
            summary.Add(".bss", "none (every PT_LOAD has p_memsz = p_filesz)");
        foreach (var b in r.Bss)
        {
            string anonymous = b.AnonymousStart is { } a
                ? $"then anonymous zero pages {MappingNames.Range(a, a + b.AnonymousSize)} ({MappingNames.Bytes(b.AnonymousSize)})"
                : "no anonymous pages";
            summary.Add(".bss", $"PT_LOAD[{b.LoadIndex}] begins at 0x{b.Start:x}, ends at 0x{b.End:x} ({MappingNames.Bytes(b.End - b.Start)}): " +
                $"0x{b.ZeroFilled:x} bytes zeroed on the last file page, {anonymous}");
        }
        var gaps = r.Regions.Where(x => x.Kind == "gap").ToList();
        if (gaps.Count == 0)
            summary.Add("gaps", "none");
        foreach (var g in gaps)
            summary.Add("gap", $"{MappingNames.Range(g.Start, g.End)} ({MappingNames.Bytes(g.Size)}) PROT_NONE between {g.Between ?? "two PT_LOADs"}: reserved, so nothing else can land there");
        summary.Write(w);
        w.WriteLine();

        var rows = r.Regions.Select(x => new[]
        {
            x.Index.ToString(),
            MappingNames.Range(x.Start, x.End),
            $"0x{x.Size:x}",
            x.Protection,
            x.FileOffset is { } o ? $"0x{o:x}" : "-",
            Holds(x, r),
        }).ToList();
        string[] headings = ["#", "Start-End", "Size", "Prot", "Offset", "Holds"];
        var widths = headings.Select((h, c) => rows.Select(row => row[c].Length).Append(h.Length).Max()).ToArray();
        int detailIndent = 2 + widths[0] + 2;
        // On a terminal, the Holds column is cut and the section lists wrap to the window; piped, nothing is.
        int? maxWidth = TerminalWidth.Of(w);
        if (maxWidth is { } max)
            widths[^1] = Math.Max(headings[^1].Length, max - (2 + widths[..^1].Sum() + 2 * (widths.Length - 1)));
        WriteRow(w, headings, widths);
        foreach (var (x, row) in r.Regions.Zip(rows))
        {
            WriteRow(w, row, widths);
            if (x.Sections.Count > 0)
            {
                string prefix = $"{new string(' ', detailIndent)}sections  ";
                string list = string.Join(' ', x.Sections);
                var pieces = maxWidth is { } m ? TextTable.Wrap(list, Math.Max(20, m - prefix.Length)) : [list];
                foreach (string piece in pieces)
                    w.WriteLine((piece == pieces[0] ? prefix : new string(' ', prefix.Length)) + piece);
            }
            string verdict = x.KernelAgrees ? Agrees : $"✗ {x.Disagreement}";
            if (x.Kernel.Count == 0)
                w.WriteLine($"{new string(' ', detailIndent)}kernel    (no line)  {verdict}");
            for (int i = 0; i < x.Kernel.Count; i++)
                w.WriteLine($"{new string(' ', detailIndent)}kernel    {x.Kernel[i].Line}{(i == x.Kernel.Count - 1 ? "  " + verdict : "")}");
        }
        w.WriteLine();
        int disagreeing = r.Regions.Count(x => !x.KernelAgrees);
        w.WriteLine(disagreeing == 0
            ? $"All {r.Regions.Count} regions agree with /proc/self/maps (protection, file offset, anonymous memory)."
            : $"{disagreeing} of {r.Regions.Count} regions disagree with /proc/self/maps.");
        if (svgPath is not null)
            w.WriteLine($"Picture written to {svgPath}.");
    }

    private static string Holds(LayoutRegion x, LayoutReport r)
    {
        string load = x.LoadIndex is { } i ? $" PT_LOAD[{i}]" : "";
        string what = x.Kind switch
        {
            "gap" => "gap, PROT_NONE" + (x.Between is null ? "" : $" between {x.Between}"),
            "bss" => $"bss{load}: anonymous zero pages",
            "relro" => $"relro{load}: {(r.Relro?.Applied == true ? "PT_GNU_RELRO, made read-only" : "PT_GNU_RELRO, writable until relocated")}"
                + (r.Relro is { SharedPages: > 0 } shared ? $", {shared.SharedPages} page(s) shared (MAP_SHARED from {shared.SharedFrom})" : ""),
            _ => x.Description + load,
        };
        if (x.BssStart is { } b)
            what += $"; .bss begins at 0x{b:x} (base+0x{b - r.BaseAddress:x})";
        return what;
    }

    private static void WriteRow(TextWriter w, string[] cells, int[] widths)
    {
        var line = new System.Text.StringBuilder("  ");
        for (int c = 0; c < cells.Length; c++)
        {
            if (c > 0)
                line.Append("  ");
            bool right = c is 0 or 2;
            string cell = c == cells.Length - 1 && cells[c].Length > widths[c] ? cells[c][..Math.Max(widths[c] - 1, 0)] + "…" : cells[c];
            line.Append(c == cells.Length - 1 ? cell : right ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]));
        }
        w.WriteLine(line.ToString().TrimEnd());
    }
}
