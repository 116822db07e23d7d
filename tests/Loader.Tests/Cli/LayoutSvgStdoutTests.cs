using System.Xml.Linq;

namespace Loader.Tests.Cli;

/// <summary><c>loader layout FILE --svg -</c>: the SVG alone on stdout, as a file written with <c>--svg OUT.svg</c> would hold it.</summary>
[Collection("AddressSpace")]
public sealed class LayoutSvgStdoutTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void Dash_writes_only_the_svg_to_stdout_with_one_region_rect_per_region()
    {
        var result = CliHarness.Run("layout", Fixtures.Path("basic.so"), "--svg", "-");
        var table = CliHarness.Run("layout", Fixtures.Path("basic.so"));

        CliHarness.AssertSuccess(result);
        CliHarness.AssertSuccess(table);
        var doc = XDocument.Parse(result.Stdout); // the whole of stdout is one XML document
        Assert.Equal(Svg + "svg", doc.Root!.Name);
        int regions = table.Stdout.Split('\n').Count(line => System.Text.RegularExpressions.Regex.IsMatch(line, @"^\s+\d+\s+0x[0-9a-f]+-0x[0-9a-f]+\s"));
        Assert.True(regions > 0, table.Stdout);
        Assert.Equal(regions, doc.Descendants(Svg + "rect").Count(e => ((string?)e.Attribute("class"))?.Split(' ').Contains("region") == true));
        Assert.False(File.Exists("-"), "a file named '-' was written");
    }

    [Fact]
    public void Dash_with_json_is_a_usage_error_since_both_write_to_stdout()
    {
        var result = CliHarness.Run("layout", Fixtures.Path("basic.so"), "--svg", "-", "--json");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains("--svg - and --json cannot be used together: both write to stdout", result.Stderr);
    }
}
