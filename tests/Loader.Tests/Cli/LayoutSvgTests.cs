using System.Text.Json;
using System.Xml.Linq;
using Loader.Cli.Commands;
using Loader.Cli.Rendering;

namespace Loader.Tests.Cli;

/// <summary><c>loader layout --svg</c>: valid XML, one region rectangle per region carrying its protection.</summary>
[Collection("AddressSpace")]
public sealed class LayoutSvgTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Theory]
    [InlineData("basic.so")]
    [InlineData("maxpage_2m.so")]
    [InlineData("bigbss.so")]
    [InlineData("norelro.so")]
    public void The_svg_holds_one_rect_per_region_with_its_protection(string fixture)
    {
        string path = Fixtures.Path(fixture);
        string svgPath = Path.Combine(Path.GetTempPath(), $"loader-layout-{Guid.NewGuid():N}.svg");
        try
        {
            var result = CliHarness.Run("layout", path, "--json", "--svg", svgPath);
            CliHarness.AssertSuccess(result);
            using var json = JsonDocument.Parse(result.Stdout);
            var regions = json.RootElement.GetProperty("regions").EnumerateArray()
                .Select(r => (Prot: r.GetProperty("protection").GetString()!, Kind: r.GetProperty("kind").GetString()!,
                    Start: $"0x{r.GetProperty("start").GetUInt64():x}"))
                .ToList();

            var doc = XDocument.Load(svgPath); // throws on malformed XML
            Assert.Equal(Svg + "svg", doc.Root!.Name);
            var rects = doc.Descendants(Svg + "rect")
                .Where(e => ((string?)e.Attribute("class"))?.Split(' ').Contains("region") == true)
                .Select(e => (Prot: (string)e.Attribute("data-prot")!, Kind: (string)e.Attribute("data-kind")!, Start: (string)e.Attribute("data-start")!))
                .ToList();
            Assert.Equal(regions.Count, rects.Count);
            Assert.Equal(regions, rects);

            // The picture marks what the layout has: a legend entry per protection, gaps with a break, RELRO hatched.
            string text = string.Join("\n", doc.Descendants(Svg + "text").Select(t => t.Value));
            foreach (var prot in new[] { "r--", "r-x", "rw-", "---" })
                Assert.Contains(prot + "  ", text);
            Assert.Equal(regions.Count(r => r.Kind == "gap"), doc.Descendants(Svg + "polygon").Count(p => (string?)p.Attribute("class") == "break"));
            Assert.Equal(regions.Count(r => r.Kind == "relro"),
                doc.Descendants(Svg + "rect").Count(e => (string?)e.Attribute("class") == "mark relro"));
            Assert.Contains($"0x{json.RootElement.GetProperty("reservedStart").GetUInt64():x}", text);
        }
        finally
        {
            File.Delete(svgPath);
        }
    }

    [Fact]
    public void Names_with_markup_characters_are_escaped()
    {
        var region = new LayoutRegion(0, "text", "text", 0x1000, 0x2000, 0x1000, 0, "r-x", 0, 0x1000, 0x1000, 1,
            [".text<script>", "a&b", "\"q\""], null, null, [], true, null);
        var gap = new LayoutRegion(1, "gap", "gap", 0x2000, 0x3000, 0x1000, 0x1000, "---", null, 0, 0, null, [], null, "PT_LOAD[1] and PT_LOAD[2]", [], true, null);
        var report = new LayoutReport("/tmp/lib<evil>&.so", "lib<evil>.so", 0x1000, 0x1000, 0x3000, 0x2000, 0x1000, 0x1000,
            null, [], [region, gap], true);

        var doc = XDocument.Parse(System.Text.Encoding.UTF8.GetString(LayoutSvg.Render(report)));

        string text = string.Join("\n", doc.Descendants(Svg + "text").Select(t => t.Value));
        Assert.Contains(".text<script> a&b \"q\"", text);
        Assert.Contains("lib<evil>&.so", text);
        Assert.Empty(doc.Descendants("script"));
        Assert.Empty(doc.Descendants(Svg + "script"));
    }
}
