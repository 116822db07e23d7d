using System.Text.Json;
using Loader.Cli.Commands;

namespace Loader.Tests.Cli;

/// <summary><c>loader demo --json</c>: the demo's four parts as one object, each part as its own command's --json has it.</summary>
[Collection("AddressSpace")]
public sealed class DemoJsonTests
{
    [Fact]
    public void Demo_json_holds_info_layout_trace_and_the_calls()
    {
        var result = CliHarness.Run("demo", "--json");
        var info = CliHarness.Run("info", DemoCommand.SamplePath, "--json");

        CliHarness.AssertSuccess(result);
        CliHarness.AssertSuccess(info);
        using var json = JsonDocument.Parse(result.Stdout);
        using var infoJson = JsonDocument.Parse(info.Stdout);
        var root = json.RootElement;
        Assert.Equal(DemoCommand.SamplePath, root.GetProperty("sample").GetString());
        Assert.Equal(JsonSerializer.Serialize(infoJson.RootElement), JsonSerializer.Serialize(root.GetProperty("info")));
        Assert.True(root.GetProperty("layout").GetProperty("kernelAgrees").GetBoolean());
        var steps = root.GetProperty("trace").GetProperty("steps").EnumerateArray().ToList();
        Assert.Equal("munmap", steps[^1].GetProperty("systemCall").GetString());
        var load = root.GetProperty("load");
        Assert.True(load.GetProperty("baseAddress").GetUInt64() > 0);
        Assert.Contains(load.GetProperty("segments").EnumerateArray(), s => s.GetProperty("kind").GetString() == "relro" && s.GetProperty("protection").GetString() == "r--");
        var calls = load.GetProperty("calls").EnumerateArray().Select(c => (c.GetProperty("call").GetString(), c.GetProperty("result").GetString())).ToList();
        Assert.Equal([("demo_add(2, 3)", "5"), ("demo_greeting()", "\"Hello from libloader_demo.so, mapped by Loader!\"")], calls);
    }
}
