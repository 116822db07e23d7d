using System.Text.Json;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary><c>loader info</c> and <c>loader layout</c> show the PT_TLS template as readelf does (size, image,
/// alignment), and say which TLS the library asks for.</summary>
public sealed class TlsViewTests
{
    [Theory]
    [InlineData("tls/libtls_gd.so", false)]
    [InlineData("tls/libtls_ie.so", true)]
    public void Info_and_layout_show_the_tls_template_readelf_shows(string fixture, bool staticTls)
    {
        string path = Fixtures.Path(fixture);
        var tls = Readelf.ReadAll(path).ProgramHeaders!.Headers.Single(h => h.Type == "TLS");

        using var info = JsonDocument.Parse(CliHarness.Run("info", path, "--json").Stdout);
        var block = info.RootElement.GetProperty("tls");
        Assert.Equal(tls.MemorySize, block.GetProperty("size").GetUInt64());
        Assert.Equal(tls.FileSize, block.GetProperty("imageSize").GetUInt64());
        Assert.Equal(tls.Align, block.GetProperty("alignment").GetUInt64());
        Assert.Equal(staticTls, block.GetProperty("staticTls").GetBoolean());
        Assert.Contains(staticTls ? "static TLS" : "dynamic (__tls_get_addr", CliHarness.Run("info", path).Stdout, StringComparison.Ordinal);

        using var layout = JsonDocument.Parse(CliHarness.Run("layout", path, "--json").Stdout);
        ulong bias = layout.RootElement.GetProperty("baseAddress").GetUInt64();
        var template = layout.RootElement.GetProperty("tls");
        Assert.Equal(bias + tls.VirtualAddress, template.GetProperty("imageStart").GetUInt64());
        Assert.Equal(bias + tls.VirtualAddress + tls.FileSize, template.GetProperty("imageEnd").GetUInt64());
        Assert.Equal(tls.MemorySize, template.GetProperty("blockSize").GetUInt64());
    }

    [Fact]
    public void A_library_without_tls_says_so()
    {
        using var info = JsonDocument.Parse(CliHarness.Run("info", Fixtures.Path("basic.so"), "--json").Stdout);
        Assert.Equal(JsonValueKind.Null, info.RootElement.GetProperty("tls").ValueKind);
        Assert.Contains("TLS:              -", CliHarness.Run("info", Fixtures.Path("basic.so")).Stdout, StringComparison.Ordinal);
    }
}
