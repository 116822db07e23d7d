using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>
/// A file that is not ELF, given to a reading command (headers), a mapping one (layout) and a loading one (call), is
/// named for what it is with the same line on stderr and exit code 1: the library's <c>NotElfFileException</c> message.
/// </summary>
[Collection("AddressSpace")]
public sealed class NonElfFileCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("loader-nonelf-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static void AssertEveryCommandSays(string path, string expected)
    {
        foreach (string[] command in new[] { new[] { "headers" }, ["layout"], ["call", "int f(void)"] })
        {
            var result = CliHarness.Run([command[0], path, .. command[1..]]);

            Assert.True(result.ExitCode == 1, $"{command[0]}: exit {result.ExitCode}: {result.Stderr}");
            Assert.Equal("", result.Stdout);
            Assert.Equal($"loader: {path}: {expected}\n", result.Stderr);
        }
    }

    [Fact]
    public void A_linker_script_names_the_library_it_names()
    {
        string path = Path.Combine(_directory, "libc.so");
        File.WriteAllText(path, "/* GNU ld script */\nOUTPUT_FORMAT(elf64-x86-64)\nGROUP ( /lib/x86_64-linux-gnu/libc.so.6 AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 ) )\n");

        AssertEveryCommandSays(path, "a GNU ld linker script, not an ELF file; the library it names is /lib/x86_64-linux-gnu/libc.so.6 " +
            "(it also names /lib64/ld-linux-x86-64.so.2)");
    }

    [Fact]
    public void An_ar_archive_is_a_static_library()
    {
        string member = Path.Combine(_directory, "member.txt");
        File.WriteAllText(member, "x\n");
        string path = Path.Combine(_directory, "libfoo.a");
        var ar = ChildProcess.Run("ar", "rc", path, member);
        Assert.True(ar.ExitCode == 0, ar.Stderr);

        AssertEveryCommandSays(path, "an ar archive (a static library), not an ELF file: a static library is linked into a program by ld, not loaded");
    }

    [Fact]
    public void A_text_file_is_text()
    {
        string path = Path.Combine(_directory, "readme.so");
        File.WriteAllText(path, "  Loader notes\nmore\n");

        AssertEveryCommandSays(path, "a text file, not an ELF file (it begins \"Loader notes\")");
    }

    [Fact]
    public void Other_data_is_named_by_its_magic()
    {
        string path = Path.Combine(_directory, "blob.so");
        File.WriteAllBytes(path, [0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00]);

        AssertEveryCommandSays(path, "not an ELF file (magic 0xcafebabe)");
    }

    [Fact]
    public void The_built_tool_names_the_systems_libc_so_a_linker_script()
    {
        const string script = "/usr/lib/x86_64-linux-gnu/libc.so";
        Assert.True(File.Exists(script), $"{script} is missing (libc6-dev)");

        var result = LoaderProcess.Run("info", script);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.StartsWith($"loader: {script}: a GNU ld linker script, not an ELF file; the library it names is /", result.Stderr);
        Assert.Contains("libc.so.6", result.Stderr);
    }
}
