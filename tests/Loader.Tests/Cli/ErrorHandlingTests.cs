namespace Loader.Tests.Cli;

public sealed class ErrorHandlingTests
{
    private static readonly string[] s_commands = ["info", "headers", "segments", "sections", "dynamic", "symbols", "relocs", "layout", "trace"];

    private static readonly string[] s_loadingCommands = ["call", "deps", "bind"];

    public static TheoryData<string> Commands => new(s_commands);

    public static TheoryData<string> AllCommands => new([.. s_commands, .. s_loadingCommands]);

    [Theory]
    [InlineData("call", "int f(void)")]
    [InlineData("deps")]
    [InlineData("bind", "f")]
    public void A_garbage_file_given_to_a_loading_command_exits_1_naming_the_file(string command, params string[] rest)
    {
        var bytes = new byte[4096];
        new Random(1234).NextBytes(bytes);
        using var garbage = new CliHarness.TempFile(bytes);

        var result = CliHarness.Run([command, garbage.Path, .. rest]);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"loader: {garbage.Path}: ", line);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void A_garbage_file_exits_1_naming_the_file_and_its_magic_without_a_stack_trace(string command)
    {
        var bytes = new byte[4096];
        new Random(1234).NextBytes(bytes);
        using var garbage = new CliHarness.TempFile(bytes);

        var result = CliHarness.Run(command, garbage.Path);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"loader: {garbage.Path}: not an ELF file (magic 0x{Convert.ToHexStringLower(bytes.AsSpan(0, 4))})", line);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public void A_truncated_library_exits_1_naming_the_field_past_the_end()
    {
        var head = File.ReadAllBytes(CliHarness.LibZ).AsSpan(0, 64);
        using var truncated = new CliHarness.TempFile(head);

        var result = CliHarness.Run("symbols", truncated.Path, "--json");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.StartsWith($"loader: {truncated.Path}: e_", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }


    [Theory]
    [InlineData("symbols")]
    [InlineData("relocs")]
    [InlineData("symbols", CliHarness.LibZ, "--no-such-option")]
    [InlineData("symbols", CliHarness.LibZ, "--defined", "--undefined")]
    [InlineData("symbols", CliHarness.LibZ, "--filter")]
    [InlineData("headers", CliHarness.LibZ, CliHarness.LibC)]
    [InlineData("no-such-command")]
    [InlineData("layout")]
    [InlineData("trace", CliHarness.LibZ, "--svg", "x.svg")]
    [InlineData("call", CliHarness.LibZ)]
    [InlineData("call", CliHarness.LibZ, "int f(")]
    [InlineData("bind", CliHarness.LibZ)]
    [InlineData("deps")]
    public void Bad_usage_exits_2_with_the_parser_error_on_stderr(params string[] args)
    {
        var result = CliHarness.Run(args);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.NotEqual("", result.Stderr);
        Assert.Contains("--help' for usage.", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public void Conflicting_selections_say_why()
    {
        var result = CliHarness.Run("symbols", CliHarness.LibZ, "--defined", "--undefined");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--defined and --undefined cannot be used together", result.Stderr);
    }

    [Theory]
    [MemberData(nameof(AllCommands))]
    public void Help_on_every_command_exits_0_with_an_example(string command)
    {
        var result = CliHarness.Run(command, "--help");

        CliHarness.AssertSuccess(result);
        Assert.Contains("Example: loader " + command, result.Stdout);
        Assert.Contains($"loader {command}", result.Stdout);
        Assert.Contains("--json", result.Stdout);
    }

    [Fact]
    public void Root_help_lists_every_command()
    {
        var result = CliHarness.Run("--help");

        CliHarness.AssertSuccess(result);
        foreach (var command in s_commands.Concat(s_loadingCommands))
            Assert.Contains("  " + command, result.Stdout);
    }
}
