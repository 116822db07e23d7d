using System.Text.RegularExpressions;
using Loader.Tests.Cli;
using Loader.Tests.Oracles;

namespace Loader.Tests.Mapping;

/// <summary>
/// The open() half of <see cref="StraceTests"/>: the flags <c>loader trace</c> prints for the descriptor its overlays
/// map from are the flags the kernel saw (O_NONBLOCK included, so a FIFO cannot block the open).
/// </summary>
[Collection("AddressSpace")]
public sealed partial class OpenFlagsStraceTests
{
    [Fact]
    public void The_kernel_saw_the_open_flags_loader_trace_prints()
    {
        string path = Fixtures.Path("basic.so");
        string log = Path.Combine(Path.GetTempPath(), $"loader-strace-open-{Guid.NewGuid():N}.txt");
        try
        {
            var run = ChildProcess.Run("strace", "-f", "-e", "trace=openat", "-o", log,
                "dotnet", LoaderProcess.FindCliAssembly(), "trace", path);
            Assert.True(run.ExitCode == 0, $"strace ... loader trace exited {run.ExitCode}: {run.Stderr}");

            string printed = PrintedFlags().Match(run.Stdout).Groups[1].Value;
            Assert.Equal("O_RDONLY|O_CLOEXEC|O_NONBLOCK", printed);
            var opens = File.ReadAllLines(log).Where(l => l.Contains($"openat(AT_FDCWD, \"{path}\", ", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(opens);
            Assert.All(opens, line => Assert.True(
                new HashSet<string>(OpenedFlags().Match(line).Groups[1].Value.Split('|')).SetEquals(printed.Split('|')), line));
        }
        finally
        {
            File.Delete(log);
        }
    }

    [GeneratedRegex(@"opened ([A-Z_|]+);")]
    private static partial Regex PrintedFlags();

    [GeneratedRegex(@"openat\(AT_FDCWD, ""[^""]*"", ([A-Z_|]+)\)")]
    private static partial Regex OpenedFlags();
}
