using System.Text.Json;

namespace Loader.Tests.Cli;

/// <summary>The built tool, run as a real process with <c>dotnet Loader.Cli.dll</c>: exit codes and streams as a shell sees them.</summary>
public sealed class ProcessTests
{
    /// <summary>
    /// Loader.Cli.dll (the <c>loader</c> tool's assembly: it cannot be named loader.dll, see Loader.Cli.csproj) next to
    /// the test assembly, where the project reference copies it, else in src/Loader.Cli/bin of the enclosing checkout.
    /// </summary>
    internal static string FindCliAssembly()
    {
        string beside = Path.Combine(AppContext.BaseDirectory, "Loader.Cli.dll");
        if (File.Exists(beside) && File.Exists(Path.Combine(AppContext.BaseDirectory, "Loader.Cli.runtimeconfig.json")))
            return beside;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var bin = new DirectoryInfo(Path.Combine(dir.FullName, "src", "Loader.Cli", "bin"));
            if (!bin.Exists)
                continue;
            var newest = bin.EnumerateFiles("Loader.Cli.dll", SearchOption.AllDirectories)
                .Where(f => File.Exists(Path.ChangeExtension(f.FullName, ".runtimeconfig.json")))
                .OrderByDescending(f => f.LastWriteTimeUtc)
                .FirstOrDefault();
            if (newest is not null)
                return newest.FullName;
        }
        throw new FileNotFoundException($"Loader.Cli.dll was not found beside {AppContext.BaseDirectory} nor in any src/Loader.Cli/bin above it");
    }

    private static CliHarness.Result RunLoader(params string[] args) => CliHarness.RunProcess("dotnet", [FindCliAssembly(), .. args]);

    [Fact]
    public void Success_writes_json_to_stdout_and_exits_0()
    {
        var result = RunLoader("symbols", CliHarness.LibZ, "--json", "--filter", "crc32_z");

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

        var result = RunLoader("info", garbage.Path);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"loader: {garbage.Path}: e_ident[EI_MAG] at offset 0x0: bad magic", line);
    }

    [Fact]
    public void Bad_usage_exits_2_with_the_error_on_stderr()
    {
        var result = RunLoader("symbols", CliHarness.LibZ, "--defined", "--undefined");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains("--defined and --undefined cannot be used together", result.Stderr);

        var missing = RunLoader("relocs");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("Required argument missing", missing.Stderr);
    }
}
