using Loader.Cli.Commands;

namespace Loader.Tests.Cli;

/// <summary><c>loader demo</c> and <c>loader</c> alone: the sample library shipped next to the tool, shown whole.</summary>
[Collection("AddressSpace")]
public sealed class DemoCommandTests
{
    [Fact]
    public void The_sample_library_ships_next_to_the_tool()
    {
        Assert.True(File.Exists(DemoCommand.SamplePath), $"{DemoCommand.SamplePath} is missing: the CLI's build compiles it");
        string cli = Path.GetDirectoryName(ProcessTests.FindCliAssembly())!;
        Assert.True(File.Exists(Path.Combine(cli, DemoCommand.SampleFileName)), $"no {DemoCommand.SampleFileName} beside the tool in {cli}");
    }

    [Theory]
    [InlineData("demo")]
    [InlineData]
    public void Demo_and_no_argument_show_the_samples_info_layout_and_trace(params string[] args)
    {
        var result = CliHarness.Run(args);

        CliHarness.AssertSuccess(result);
        string output = result.Stdout;
        Assert.Contains(DemoCommand.SamplePath, output);
        int info = output.IndexOf("== info ==", StringComparison.Ordinal);
        int layout = output.IndexOf("== layout ==", StringComparison.Ordinal);
        int trace = output.IndexOf("== trace ==", StringComparison.Ordinal);
        Assert.True(info > 0 && layout > info && trace > layout, output);
        Assert.Matches(@"SONAME:\s+libloader_demo\.so", output);
        Assert.Matches(@"All \d+ regions agree with /proc/self/maps", output);
        Assert.Contains("bss PT_LOAD", output); // the sample's 64 KiB .bss needs anonymous pages
        Assert.Contains("relro PT_LOAD", output);
        Assert.Matches(@"\d+\s+unmap\s+munmap\(", output.TrimEnd().Split('\n')[^1]);
    }

    [Fact]
    public void The_built_tool_runs_the_demo_with_no_argument()
    {
        var result = CliHarness.RunProcess("dotnet", ProcessTests.FindCliAssembly());

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("", result.Stderr);
        Assert.Contains("libloader_demo.so", result.Stdout);
        Assert.Contains("== trace ==", result.Stdout);
    }
}
