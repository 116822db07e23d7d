using System.Text.Json;

namespace Loader.Tests.Cli;

/// <summary>The built tool, run as a real process with <c>dotnet Loader.Cli.dll</c>: exit codes and streams as a shell sees them.</summary>
public sealed class ProcessTests
{
    [Fact]
    public void Success_writes_json_to_stdout_and_exits_0()
    {
        var result = LoaderProcess.Run("symbols", CliHarness.LibZ, "--json", "--filter", "crc32_z");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("", result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Contains(json.RootElement.GetProperty("symbols").EnumerateArray(), s => s.GetProperty("name").GetString() == "crc32_z");
    }

    [Fact]
    public void A_bad_file_exits_1_with_one_line_on_stderr()
    {
        var bytes = new byte[512];
        new Random(99).NextBytes(bytes);
        using var garbage = new CliHarness.TempFile(bytes);

        var result = LoaderProcess.Run("info", garbage.Path);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"loader: {garbage.Path}: not an ELF file (magic 0x{Convert.ToHexStringLower(bytes.AsSpan(0, 4))})", line);
    }

    [Fact]
    public void Bad_usage_exits_2_with_the_error_on_stderr()
    {
        var result = LoaderProcess.Run("symbols", CliHarness.LibZ, "--defined", "--undefined");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains("--defined and --undefined cannot be used together", result.Stderr);

        var missing = LoaderProcess.Run("relocs");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("Required argument missing", missing.Stderr);
    }

    [Fact]
    public void Piped_tables_keep_their_full_width()
    {
        // stdout is a pipe here, not a terminal: no line is cut to a window's width, so names come out whole.
        var result = LoaderProcess.Run("symbols", CliHarness.LibC, "--filter", "_dl_exception_create");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.DoesNotContain("…", result.Stdout);
        Assert.Contains("_dl_exception_create@GLIBC_PRIVATE", result.Stdout);
    }
}
