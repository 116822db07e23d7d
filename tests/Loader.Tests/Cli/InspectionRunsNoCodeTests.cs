using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>
/// <c>loader deps</c> and <c>loader bind</c> inspect a library without running any of its code. The oracle is
/// <c>linking/libctor_marker.so</c>, whose constructor and IFUNC resolver append to the file named by
/// <c>LOADER_TEST_MARKER</c>: run as real processes (a constructor reads the process's own environment), the commands
/// must leave no file, while glibc's dlopen of the same library (the positive control) does leave one.
/// </summary>
public sealed class InspectionRunsNoCodeTests
{
    private const string MarkerVariable = "LOADER_TEST_MARKER";

    [Fact]
    public void Glibcs_dlopen_runs_the_constructor_so_the_marker_can_appear()
    {
        using var marker = new MarkerFile();

        var run = ChildProcess.Run(Fixtures.Path("tools/dlopen_each"), [], marker.Environment,
            standardInput: Fixtures.Path("linking/libctor_marker.so") + "\n");

        Assert.StartsWith("loaded\t", run.Stdout);
        Assert.True(File.Exists(marker.Path), "glibc's dlopen ran the constructor, yet no marker file appeared");
        Assert.Equal("constructor\n", File.ReadAllText(marker.Path));
    }

    [Theory]
    [InlineData(0, "deps", "linking/libctor_marker.so")]
    [InlineData(1, "deps", "linking/libneeds_missing.so")]
    [InlineData(0, "bind", "linking/libctor_marker.so", "marker_value")]
    [InlineData(0, "bind", "linking/libctor_marker.so", "marked_ifunc")]
    [InlineData(0, "bind", "linking/libctor_marker.so", "--all")]
    [InlineData(0, "bind", "linking/libctor_marker.so", "--all", "--json")]
    public void The_command_leaves_no_marker(int exitCode, string command, string fixture, params string[] rest)
    {
        using var marker = new MarkerFile();

        var run = ChildProcess.Run("dotnet", [LoaderProcess.FindCliAssembly(), command, Fixtures.Path(fixture), .. rest], marker.Environment);

        Assert.True(run.ExitCode == exitCode, $"exit code {run.ExitCode}, stderr: {run.Stderr}");
        Assert.NotEqual("", run.Stdout);
        Assert.False(File.Exists(marker.Path), $"loader {command} ran code of {fixture}: {(File.Exists(marker.Path) ? File.ReadAllText(marker.Path) : "")}");
    }

    /// <summary>A marker path that does not exist yet, deleted on dispose, and the environment that names it.</summary>
    private sealed class MarkerFile : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"loader-marker-{Guid.NewGuid():N}");

        public IReadOnlyDictionary<string, string?> Environment => new Dictionary<string, string?> { [MarkerVariable] = Path };

        public void Dispose() => File.Delete(Path);
    }
}
