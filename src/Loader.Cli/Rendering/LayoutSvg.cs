using System.Globalization;
using System.Text;
using System.Xml;
using Loader.Cli.Commands;

namespace Loader.Cli.Rendering;

/// <summary>
/// Draws a mapped image's address space as SVG: one bar from the lowest address (top) to the highest, each region a
/// rectangle colored by protection, heights to scale except that gaps are compressed (drawn with a break symbol and
/// their true size) and tiny regions get a minimum height; RELRO hatched, .bss dotted, the start of .bss a dashed
/// line; absolute addresses on the axis; section names beside each region where they fit; a legend. Written with an
/// <see cref="XmlWriter"/>, so a section or file name holding '&lt;' or '&amp;' is escaped.
/// </summary>
/// <remarks>Each region is exactly one <c>&lt;rect class="region"&gt;</c> carrying <c>data-prot</c> (<c>r-x</c>),
/// <c>data-kind</c> and its absolute range, so tools and tests can read the picture back.</remarks>
internal static class LayoutSvg
{
    private const string Ns = "http://www.w3.org/2000/svg";
    private const string Font = "DejaVu Sans Mono, Menlo, Consolas, monospace";
    private const double Width = 1000, BarX = 200, BarWidth = 170, LabelX = BarX + BarWidth + 16, Top = 86;
    private const double TargetHeight = 560, MaxPagePixels = 64, MinRegion = 38, GapHeight = 48, LineHeight = 13;
    private const int MaxLabelLines = 6;
    private const double CharWidth = 6.7; // 11 px monospace

    /// <summary>The legend's protections and their colors.</summary>
    internal static readonly (string Prot, string Color, string Meaning)[] Palette =
    [
        ("r--", "#9ecae1", "read-only"),
        ("r-x", "#fdae6b", "read + execute"),
        ("rw-", "#a1d99b", "read + write"),
        ("---", "#e3e3e3", "PROT_NONE"),
    ];

    public static void WriteFile(string path, LayoutReport report) => File.WriteAllBytes(path, Render(report));

    /// <summary>The SVG document as UTF-8 bytes.</summary>
    public static byte[] Render(LayoutReport report)
    {
        using var stream = new MemoryStream();
        var settings = new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false) };
        using (var w = XmlWriter.Create(stream, settings))
            Write(w, report);
        return stream.ToArray();
    }

    private static void Write(XmlWriter w, LayoutReport r)
    {
        double pixelsPerByte = Math.Min(MaxPagePixels / r.PageSize,
            TargetHeight / Math.Max(1.0, r.Regions.Where(x => x.Kind != "gap").Sum(x => (double)x.Size)));
        var labels = r.Regions.Select(x => Label(r, x)).ToArray();
        // A region is at least tall enough for its label (up to MaxLabelLines lines); gaps have a fixed, compressed height.
        var heights = r.Regions.Select((x, i) => x.Kind == "gap" ? GapHeight
            : Math.Max(Math.Max(MinRegion, Math.Min(labels[i].Count, MaxLabelLines) * LineHeight + 8), Math.Round(x.Size * pixelsPerByte))).ToArray();
        double barsEnd = Top + heights.Sum();
        double legendY = barsEnd + 44;
        double height = legendY + 118;

        w.WriteStartElement("svg", Ns);
        Attr(w, "width", Width);
        Attr(w, "height", height);
        w.WriteAttributeString("viewBox", $"0 0 {N(Width)} {N(height)}");
        w.WriteAttributeString("font-family", Font);
        w.WriteAttributeString("font-size", "11");
        Element(w, "title", $"Address space of {Path.GetFileName(r.File)} mapped by loader layout");
        WriteDefs(w);
        Rect(w, 0, 0, Width, height, "#ffffff", null, "background");

        Text(w, 16, 28, $"{Path.GetFileName(r.File)}{(r.SoName is null ? "" : $" (SONAME {r.SoName})")}", size: 17, weight: "bold");
        Text(w, 16, 48, $"reserved 0x{r.ReservedStart:x}-0x{r.ReservedEnd:x}  ·  0x{r.ReservedSize:x} bytes ({MappingNames.Bytes(r.ReservedSize)})  ·  " +
            $"base 0x{r.BaseAddress:x} aligned to 0x{r.Alignment:x}  ·  {r.Regions.Count} regions", size: 12);
        Text(w, 16, 66, "Mapped by ElfImage.Map: nothing of the library ran. Low addresses at the top.", size: 11, fill: "#555555");
        Text(w, BarX - 12, Top - 8, "address", anchor: "end", fill: "#555555");
        Text(w, LabelX, Top - 8, "prot  what  size  (sections)", fill: "#555555");

        double y = Top;
        for (int i = 0; i < r.Regions.Count; i++)
        {
            WriteRegion(w, r, r.Regions[i], labels[i], y, heights[i]);
            Tick(w, y, r.Regions[i].Start, r.BaseAddress);
            y += heights[i];
        }
        Tick(w, y, r.ReservedEnd, r.BaseAddress);
        WriteLegend(w, legendY, pixelsPerByte * r.PageSize, r.PageSize);
        w.WriteEndElement();
    }

    private static void WriteRegion(XmlWriter w, LayoutReport r, LayoutRegion x, List<string> label, double y, double h)
    {
        string fill = Palette.FirstOrDefault(p => p.Prot == x.Protection).Color ?? "#fb6a4a";
        w.WriteStartElement("rect", Ns);
        w.WriteAttributeString("class", $"region {x.Kind}");
        w.WriteAttributeString("data-prot", x.Protection);
        w.WriteAttributeString("data-kind", x.Kind);
        w.WriteAttributeString("data-start", $"0x{x.Start:x}");
        w.WriteAttributeString("data-end", $"0x{x.End:x}");
        Attr(w, "x", BarX); Attr(w, "y", y); Attr(w, "width", BarWidth); Attr(w, "height", h);
        w.WriteAttributeString("fill", fill);
        w.WriteAttributeString("stroke", "#333333");
        w.WriteAttributeString("stroke-width", "1");
        Element(w, "title", $"{x.Protection} {x.Description} 0x{x.Start:x}-0x{x.End:x} (0x{x.Size:x} bytes)"
            + (x.FileOffset is { } off ? $", file offset 0x{off:x}" : "")
            + (x.Sections.Count > 0 ? ": " + string.Join(' ', x.Sections) : "")
            + (x.Kernel.Count > 0 ? $"\nkernel: {string.Join("\n", x.Kernel.Select(k => k.Line))}" : ""));
        w.WriteEndElement();

        switch (x.Kind)
        {
            case "relro":
                Rect(w, BarX, y, BarWidth, h, "url(#relro-hatch)", "#6a3d9a", "mark relro", dashed: true);
                break;
            case "bss":
                Rect(w, BarX, y, BarWidth, h, "url(#bss-dots)", null, "mark bss");
                break;
            case "gap":
                Rect(w, BarX, y, BarWidth, h, "url(#gap-hatch)", null, "mark gap");
                BreakSymbol(w, y + h / 2);
                break;
        }
        if (x.BssStart is { } bss)
        {
            // Dots over the zeroed part of the last file page: from .bss's start to p_memsz's end (or the page's).
            ulong bssEnd = BssEndOnPage(r, x, bss);
            double by = y + h * (bss - x.Start) / x.Size, bh = Math.Max(1, h * (bssEnd - bss) / x.Size);
            Rect(w, BarX, by, BarWidth, Math.Min(bh, y + h - by), "url(#bss-dots)", null, "mark bss-tail");
            Line(w, BarX - 4, by, BarX + BarWidth + 4, by, "#1b5e20", 1.5, "5 3");
        }

        int maxChars = (int)((Width - LabelX - 12) / CharWidth);
        int fit = Math.Max(1, (int)((h - 6) / LineHeight));
        if (label.Count > fit)
        {
            int hidden = label.Count - fit + 1;
            label = [.. label.Take(fit - 1), $"… {hidden} more line{(hidden == 1 ? "" : "s")} of sections (hover for all)"];
        }
        for (int l = 0; l < label.Count; l++)
            Text(w, LabelX, y + 14 + l * LineHeight, Clip(label[l], maxChars), weight: l == 0 ? "bold" : null, fill: l == 0 ? "#111111" : "#444444");
    }

    private static ulong BssEndOnPage(LayoutReport r, LayoutRegion x, ulong bss) =>
        Math.Min(x.End, r.Bss.FirstOrDefault(b => b.Start == bss)?.End ?? x.End);

    /// <summary>The lines written beside a region: what it is, its notes (RELRO, .bss, gap), then its sections.</summary>
    private static List<string> Label(LayoutReport r, LayoutRegion x)
    {
        string size = $"0x{x.Size:x} ({MappingNames.Bytes(x.Size)})";
        var lines = new List<string>
        {
            x.Kind == "gap"
                ? $"---  gap  {size}  compressed, not to scale"
                : $"{x.Protection}  {x.Description}{(x.LoadIndex is { } i ? $"  PT_LOAD[{i}]" : "")}  {size}{(x.FileOffset is { } o ? $"  off 0x{o:x}" : "")}",
        };
        if (x.Kind == "relro")
            lines.Add((r.Relro?.Applied == true ? "RELRO: read-only (PT_GNU_RELRO)" : "RELRO: read-only once relocated")
                + (r.Relro is { SharedPages: > 0 } shared ? $"; {shared.SharedPages} page(s) shared from {shared.SharedFrom}" : ""));
        if (x.Kind == "bss")
            lines.Add("anonymous zero pages (.bss past the file)");
        if (x.Kind == "gap")
            lines.Add($"PROT_NONE, reserved{(x.Between is null ? "" : $" between {x.Between}")}");
        if (x.BssStart is { } bss)
            lines.Add($".bss begins at 0x{bss:x} (dashed line): {MappingNames.Bytes(BssEndOnPage(r, x, bss) - bss)} zeroed on this page");
        lines.AddRange(Wrap(x.Sections, (int)((Width - LabelX - 12) / CharWidth)));
        return lines;
    }

    /// <summary>Section names joined by spaces, cut into lines of at most <paramref name="width"/> characters.</summary>
    private static List<string> Wrap(IReadOnlyList<string> words, int width)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        foreach (var word in words)
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line.ToString());
                line.Clear();
            }
            line.Append(line.Length > 0 ? " " : "").Append(word);
        }
        if (line.Length > 0)
            lines.Add(line.ToString());
        return lines;
    }

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

    private static void Tick(XmlWriter w, double y, ulong address, ulong bias)
    {
        Line(w, BarX - 8, y, BarX, y, "#333333", 1, null);
        Text(w, BarX - 12, y + 4, $"0x{address:x}", anchor: "end");
        Text(w, BarX - 12, y + 15, $"base+0x{address - bias:x}", anchor: "end", size: 9, fill: "#777777");
    }

    /// <summary>The "not to scale" break: two zigzags across the bar with white between them.</summary>
    private static void BreakSymbol(XmlWriter w, double cy)
    {
        var upper = new StringBuilder();
        var lower = new StringBuilder();
        double left = BarX - 6, right = BarX + BarWidth + 6, step = 8;
        int n = (int)Math.Ceiling((right - left) / step);
        for (int k = 0; k <= n; k++)
        {
            double px = Math.Min(right, left + k * step), dy = k % 2 == 0 ? -3 : 3;
            upper.Append(CultureInfo.InvariantCulture, $"{N(px)},{N(cy - 5 + dy)} ");
            lower.Insert(0, $"{N(px)},{N(cy + 5 + dy)} ");
        }
        w.WriteStartElement("polygon", Ns);
        w.WriteAttributeString("class", "break");
        w.WriteAttributeString("points", (upper.ToString() + lower).Trim());
        w.WriteAttributeString("fill", "#ffffff");
        w.WriteAttributeString("stroke", "none");
        w.WriteEndElement();
        Polyline(w, upper.ToString().Trim());
        var lowerLeftToRight = string.Join(' ', lower.ToString().Trim().Split(' ').Reverse());
        Polyline(w, lowerLeftToRight);
    }

    private static void WriteLegend(XmlWriter w, double y, double pixelsPerPage, ulong page)
    {
        Text(w, 16, y, "Legend", size: 12, weight: "bold");
        double col = 16, row = y + 14;
        foreach (var (prot, color, meaning) in Palette)
        {
            Rect(w, col, row, 22, 14, color, "#333333", "legend");
            Text(w, col + 30, row + 11, $"{prot}  {meaning}");
            col += 230;
        }
        col = 16;
        row += 24;
        Rect(w, col, row, 22, 14, "#a1d99b", "#333333", "legend");
        Rect(w, col, row, 22, 14, "url(#relro-hatch)", "#6a3d9a", "legend", dashed: true);
        Text(w, col + 30, row + 11, "RELRO (read-only)");
        col += 230;
        Rect(w, col, row, 22, 14, "#a1d99b", "#333333", "legend");
        Rect(w, col, row, 22, 14, "url(#bss-dots)", null, "legend");
        Text(w, col + 30, row + 11, ".bss (zero-filled)");
        col += 230;
        Line(w, col, row + 7, col + 22, row + 7, "#1b5e20", 1.5, "5 3");
        Text(w, col + 30, row + 11, "where .bss begins");
        col += 230;
        Rect(w, col, row, 22, 14, "#e3e3e3", "#333333", "legend");
        Rect(w, col, row, 22, 14, "url(#gap-hatch)", null, "legend");
        Text(w, col + 30, row + 11, "gap (compressed)");
        Text(w, 16, row + 40, $"Heights are to scale: one 0x{page:x}-byte page = {N(pixelsPerPage)} px, except that a region is at least {N(MinRegion)} px tall (or tall enough for its label)", fill: "#555555");
        Text(w, 16, row + 54, $"and every gap is drawn {N(GapHeight)} px tall with a break (its true size is written beside it).", fill: "#555555");
    }

    private static void WriteDefs(XmlWriter w)
    {
        w.WriteStartElement("defs", Ns);
        Pattern(w, "relro-hatch", 8, "rotate(45)", () => Line(w, 0, 0, 0, 8, "#6a3d9a", 2, null, opacity: "0.55"));
        Pattern(w, "gap-hatch", 8, "rotate(-45)", () => Line(w, 0, 0, 0, 8, "#9e9e9e", 1.5, null));
        Pattern(w, "bss-dots", 6, null, () =>
        {
            w.WriteStartElement("circle", Ns);
            w.WriteAttributeString("cx", "3"); w.WriteAttributeString("cy", "3"); w.WriteAttributeString("r", "1.1");
            w.WriteAttributeString("fill", "#1b5e20");
            w.WriteAttributeString("fill-opacity", "0.6");
            w.WriteEndElement();
        });
        w.WriteEndElement();
    }

    private static void Pattern(XmlWriter w, string id, double size, string? transform, Action body)
    {
        w.WriteStartElement("pattern", Ns);
        w.WriteAttributeString("id", id);
        w.WriteAttributeString("patternUnits", "userSpaceOnUse");
        Attr(w, "width", size); Attr(w, "height", size);
        if (transform is not null)
            w.WriteAttributeString("patternTransform", transform);
        body();
        w.WriteEndElement();
    }

    private static void Rect(XmlWriter w, double x, double y, double width, double height, string fill, string? stroke, string cls, bool dashed = false)
    {
        w.WriteStartElement("rect", Ns);
        w.WriteAttributeString("class", cls);
        Attr(w, "x", x); Attr(w, "y", y); Attr(w, "width", width); Attr(w, "height", height);
        w.WriteAttributeString("fill", fill);
        w.WriteAttributeString("stroke", stroke ?? "none");
        if (stroke is not null)
            w.WriteAttributeString("stroke-width", dashed ? "2.5" : "1");
        if (dashed)
            w.WriteAttributeString("stroke-dasharray", "6 3");
        w.WriteEndElement();
    }

    private static void Line(XmlWriter w, double x1, double y1, double x2, double y2, string stroke, double width, string? dash, string? opacity = null)
    {
        w.WriteStartElement("line", Ns);
        Attr(w, "x1", x1); Attr(w, "y1", y1); Attr(w, "x2", x2); Attr(w, "y2", y2);
        w.WriteAttributeString("stroke", stroke);
        Attr(w, "stroke-width", width);
        if (dash is not null)
            w.WriteAttributeString("stroke-dasharray", dash);
        if (opacity is not null)
            w.WriteAttributeString("stroke-opacity", opacity);
        w.WriteEndElement();
    }

    private static void Polyline(XmlWriter w, string points)
    {
        w.WriteStartElement("polyline", Ns);
        w.WriteAttributeString("points", points);
        w.WriteAttributeString("fill", "none");
        w.WriteAttributeString("stroke", "#333333");
        w.WriteAttributeString("stroke-width", "1.2");
        w.WriteEndElement();
    }

    private static void Text(XmlWriter w, double x, double y, string text, double size = 11, string? weight = null, string? anchor = null, string? fill = null)
    {
        w.WriteStartElement("text", Ns);
        Attr(w, "x", x); Attr(w, "y", y);
        if (size != 11)
            Attr(w, "font-size", size);
        if (weight is not null)
            w.WriteAttributeString("font-weight", weight);
        if (anchor is not null)
            w.WriteAttributeString("text-anchor", anchor);
        if (fill is not null)
            w.WriteAttributeString("fill", fill);
        w.WriteString(text);
        w.WriteEndElement();
    }

    private static void Element(XmlWriter w, string name, string text)
    {
        w.WriteStartElement(name, Ns);
        w.WriteString(text);
        w.WriteEndElement();
    }

    private static void Attr(XmlWriter w, string name, double value) => w.WriteAttributeString(name, N(value));

    private static string N(double value) => Math.Round(value, 2).ToString("0.##", CultureInfo.InvariantCulture);
}
