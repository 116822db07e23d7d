using System.Text.Json;
using Loader.Tests.Cli;

namespace Loader.Tests.Sharing;

/// <summary><c>loader layout --write-relro</c>: RELRO written to a memfd and mapped back shared is marked shared in the
/// text, the JSON and the SVG, and the kernel agrees (the RELRO region is an <c>r--s</c> mapping of the memfd).</summary>
[Collection("AddressSpace")]
public sealed class LayoutSharedRelroTests
{
    [Fact]
    public void The_layout_marks_the_shared_RELRO_pages_and_agrees_with_the_kernel()
    {
        var result = CliHarness.Run("layout", Fixtures.Path("relro_share.so"), "--write-relro", "--json");
        CliHarness.AssertSuccess(result);
        var report = JsonDocument.Parse(result.Stdout).RootElement;
        var relro = report.GetProperty("relro");
        ulong pages = (relro.GetProperty("end").GetUInt64() - relro.GetProperty("start").GetUInt64()) / (ulong)Environment.SystemPageSize;
        Assert.Equal((int)pages, relro.GetProperty("sharedPages").GetInt32());
        Assert.StartsWith("/memfd:loader-layout-relro", relro.GetProperty("sharedFrom").GetString(), StringComparison.Ordinal);
        Assert.True(report.GetProperty("kernelAgrees").GetBoolean());
        var relroRegion = report.GetProperty("regions").EnumerateArray().Single(r => r.GetProperty("kind").GetString() == "relro");
        Assert.All(relroRegion.GetProperty("kernel").EnumerateArray(), k => Assert.EndsWith("s", k.GetProperty("permissions").GetString(), StringComparison.Ordinal));

        var text = CliHarness.Run("layout", Fixtures.Path("relro_share.so"), "--write-relro");
        Assert.Contains($"{pages} page(s) shared", text.Stdout, StringComparison.Ordinal);
        var svg = CliHarness.Run("layout", Fixtures.Path("relro_share.so"), "--write-relro", "--svg", "-");
        Assert.Contains("page(s) shared from /memfd:loader-layout-relro", svg.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_write_relro_nothing_is_shared()
    {
        var result = CliHarness.Run("layout", Fixtures.Path("relro_share.so"), "--json");
        var relro = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("relro");
        Assert.Equal(0, relro.GetProperty("sharedPages").GetInt32());
        Assert.Equal(JsonValueKind.Null, relro.GetProperty("sharedFrom").ValueKind);
    }
}
