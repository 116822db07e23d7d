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
        string cli = Path.GetDirectoryName(LoaderProcess.FindCliAssembly())!;
        Assert.True(File.Exists(Path.Combine(cli, DemoCommand.SampleFileName)), $"no {DemoCommand.SampleFileName} beside the tool in {cli}");
    }

    [Theory]
    [InlineData("demo")]
    [InlineData]
    public void Demo_and_no_argument_show_the_samples_info_layout_trace_and_calls(params string[] args)
    {
        var result = CliHarness.Run(args);

        CliHarness.AssertSuccess(result);
        string output = result.Stdout;
        Assert.Contains(DemoCommand.SamplePath, output);
        int info = output.IndexOf("== info ==", StringComparison.Ordinal);
        int layout = output.IndexOf("== layout ==", StringComparison.Ordinal);
        int trace = output.IndexOf("== trace ==", StringComparison.Ordinal);
        int call = output.IndexOf("== call ==", StringComparison.Ordinal);
        Assert.True(info > 0 && layout > info && trace > layout && call > trace, output);
        Assert.Matches(@"SONAME:\s+libloader_demo\.so", output);
        Assert.Matches(@"All \d+ regions agree with /proc/self/maps", output);
        Assert.Contains("bss PT_LOAD", output); // the sample's 64 KiB .bss needs anonymous pages
        Assert.Contains("relro PT_LOAD", output);
        // The trace ends with Dispose's munmap, before the call section.
        Assert.Matches(@"\d+\s+unmap\s+munmap\(", output[..call].TrimEnd().Split('\n')[^1]);
        // Loaded with ElfLibrary.Load, then two exports called as `loader call` calls them.
        string calls = output[call..];
        Assert.Matches(@"Loaded at 0x[0-9a-f]+: \d+ relocations applied", calls);
        Assert.Matches(@"0x[0-9a-f]+\s+0x[0-9a-f]+\s+r--\s+relro", calls); // RELRO read-only after relocation
        Assert.Contains("  demo_add(2, 3) = 5\n", calls);
        Assert.Contains("  demo_greeting() = \"Hello from libloader_demo.so, mapped by Loader!\"\n", calls);
    }

    [Fact]
    public void The_built_tool_runs_the_demo_with_no_argument()
    {
        var result = LoaderProcess.Run();

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("", result.Stderr);
        Assert.Contains("libloader_demo.so", result.Stdout);
        Assert.Contains("== trace ==", result.Stdout);
        Assert.Contains("demo_add(2, 3) = 5", result.Stdout);
    }
}
