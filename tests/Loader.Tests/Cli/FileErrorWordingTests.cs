using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>
/// One wording per file error, whatever the command: every command that takes a FILE says "no such file" for a
/// missing path, "is a directory" for a directory, "is a FIFO" for a FIFO, and names a non-ELF file for what it is,
/// on one line of stderr with exit code 1.
/// </summary>
[Collection("AddressSpace")]
public sealed class FileErrorWordingTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("loader-wording-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Every command that takes a FILE, with what it needs after it.</summary>
    public static TheoryData<string[]> Commands => new(
        ["info"], ["headers"], ["segments"], ["sections"], ["dynamic"], ["symbols"], ["relocs"], ["layout"], ["trace"],
        ["call", "int f(void)"], ["deps"], ["bind", "f"]);

    private static string RunOneLine(string[] command, string path, int exitCode = 1)
    {
        var result = CliHarness.Run([command[0], path, .. command[1..]]);
        Assert.True(result.ExitCode == exitCode, $"exit {result.ExitCode}: {result.Stderr}");
        Assert.Equal("", result.Stdout);
        Assert.DoesNotContain("   at ", result.Stderr);
        return Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void A_missing_path_is_no_such_file(string[] command)
    {
        string path = Path.Combine(_directory, "libmissing.so");

        Assert.Equal($"loader: {path}: no such file", RunOneLine(command, path));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void A_path_under_a_file_is_no_such_file(string[] command)
    {
        string file = Path.Combine(_directory, "plain");
        File.WriteAllText(file, "x");
        string path = Path.Combine(file, "libunder.so"); // open() fails with ENOTDIR

        Assert.Equal($"loader: {path}: no such file", RunOneLine(command, path));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void A_directory_is_a_directory(string[] command)
    {
        Assert.StartsWith($"loader: {_directory}: is a directory, not a regular file", RunOneLine(command, _directory));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void A_fifo_is_a_FIFO(string[] command)
    {
        string fifo = Path.Combine(_directory, "pipe.so");
        var made = ChildProcess.Run("mkfifo", fifo);
        Assert.True(made.ExitCode == 0, made.Stderr);

        Assert.StartsWith($"loader: {fifo}: is a FIFO, not a regular file", RunOneLine(command, fifo));
    }

    [Fact]
    public void Try_words_the_same_errors_after_the_files_name()
    {
        string missing = Path.Combine(_directory, "libmissing.so");
        string text = Path.Combine(_directory, "notes.so");
        File.WriteAllText(text, "hello world\n");

        var result = CliHarness.Run("try", missing, _directory, text);

        Assert.Equal(1, result.ExitCode);
        var lines = result.Stdout.Split('\n');
        Assert.Equal($"refused  {missing}: no such file", lines[0]);
        Assert.StartsWith($"refused  {_directory}: is a directory, not a regular file", lines[1]);
        Assert.Equal($"refused  {text}: a text file, not an ELF file (it begins \"hello world\")", lines[2]);
    }

    [Fact]
    public void A_bare_name_in_the_current_directory_is_that_file_for_call_and_try_as_for_info()
    {
        // Run from the fixtures' directory, as a user would type "loader call basic.so …" there.
        string directory = Path.GetDirectoryName(Fixtures.Path("basic.so"))!;
        string cli = LoaderProcess.FindCliAssembly();
        ChildProcess.Result InFixtures(string arguments) =>
            ChildProcess.Run("sh", "-c", $"cd '{directory}' && exec dotnet '{cli}' {arguments}");

        var info = InFixtures("info basic.so");
        var call = InFixtures("call basic.so 'int add(int, int)' 2 3");
        var tried = InFixtures("try basic.so");
        var missing = InFixtures("call no-such-file.so 'int f(void)'");

        Assert.True(info.ExitCode == 0, info.Stderr);
        Assert.True(call.ExitCode == 0, call.Stderr);
        Assert.Equal("5\n", call.Stdout);
        Assert.True(tried.ExitCode == 0, tried.Stderr);
        Assert.StartsWith("loaded   basic.so", tried.Stdout);
        // A bare name that names nothing here is searched for as dlopen searches, and the refusal says where it looked.
        Assert.Equal(1, missing.ExitCode);
        Assert.StartsWith("loader: no-such-file.so not found; looked in: ", missing.Stderr);
    }
}
