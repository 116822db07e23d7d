using System.Text.Json;
using System.Runtime.InteropServices;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>
/// Every command takes a bare library name as dlopen does: the file it reads is the one glibc's dlopen maps for that
/// name (the oracle: the link map's l_name of glibc's own handle, compared by device and inode).
/// </summary>
public sealed class BareNameFileTests
{
    [Theory]
    [InlineData("libz.so.1")]
    [InlineData("libexpat.so.1")]
    public void Info_reads_the_file_glibc_maps_for_a_bare_name(string name)
    {
        var result = CliHarness.Run("info", name, "--json");

        CliHarness.AssertSuccess(result);
        string file = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("file").GetString()!;
        Assert.Equal(Identity(GlibcPath(name)), Identity(file));
    }

    [Theory]
    [InlineData("headers")]
    [InlineData("segments")]
    [InlineData("sections")]
    [InlineData("dynamic")]
    [InlineData("symbols")]
    [InlineData("relocs")]
    public void A_reading_command_prints_for_a_bare_name_what_it_prints_for_the_file_glibc_maps(string command)
    {
        var byName = CliHarness.Run(command, "libz.so.1");
        var byPath = CliHarness.Run(command, GlibcPath("libz.so.1"));

        CliHarness.AssertSuccess(byName);
        Assert.Equal(byPath.Stdout, byName.Stdout);
    }

    [Theory]
    [InlineData("layout")]
    [InlineData("trace")]
    [InlineData("deps")]
    [InlineData("bind")]
    public void A_mapping_or_loading_command_accepts_a_bare_name(string command)
    {
        var result = command == "bind" ? CliHarness.Run(command, "libz.so.1", "--all") : CliHarness.Run(command, "libz.so.1");

        CliHarness.AssertSuccess(result);
        Assert.Contains("libz.so.1", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bare_name_found_nowhere_is_no_such_file()
    {
        var result = CliHarness.Run("headers", "libloader-nowhere.so.7");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("loader: libloader-nowhere.so.7: no such file", result.Stderr.Trim());
    }

    private static string GlibcPath(string name)
    {
        nint handle = NativeLibrary.Load(name);
        try
        {
            return Glibc.LinkMapName(handle);
        }
        finally
        {
            NativeLibrary.Free(handle);
        }
    }

    private static (ulong Device, ulong Inode) Identity(string path)
    {
        var stat = ChildProcess.Run("stat", "-L", "-c", "%d %i", path);
        Assert.Equal(0, stat.ExitCode);
        var parts = stat.Stdout.Trim().Split(' ');
        return (ulong.Parse(parts[0]), ulong.Parse(parts[1]));
    }
}
