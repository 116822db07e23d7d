using Loader.Elf;
using Loader.Tests.Elf;

namespace Loader.Tests;

/// <summary>
/// The test assembly's Main, for scenarios that would kill the process that runs them if Loader regressed (a SIGBUS
/// is not an exception): a test runs <c>dotnet Loader.Tests.dll &lt;scenario&gt; &lt;args&gt;</c> through
/// <see cref="Oracles.ChildProcess"/> and reads its exit code and output. Replaces the SDK's empty generated Main.
/// </summary>
public static class ChildEntryPoint
{
    /// <summary>Open a file with <see cref="ElfFile.Open"/>, truncate it to zero bytes, then read everything.</summary>
    public const string TruncateAfterOpen = "truncate-after-open";

    public static int Main(string[] args)
    {
        switch (args)
        {
            case [TruncateAfterOpen, string path]:
                using (var elf = ElfFile.Open(path))
                {
                    File.WriteAllBytes(path, []);
                    Console.WriteLine($"read {ElfReadAll.ReadEverything(elf)}");
                }
                return 0;
            case [Hostile.HostileBatchChild.Scenario, string entry, string progress, string list]:
                return Hostile.HostileBatchChild.Run(entry, progress, list, fault: null);
            case [Hostile.HostileBatchChild.Scenario, string entry, string progress, string list, string fault]:
                return Hostile.HostileBatchChild.Run(entry, progress, list, fault);
            case [Hostile.RegressionInputs.Scenario, string directory]:
                return Hostile.RegressionInputs.Write(directory);
            default:
                Console.Error.WriteLine($"unknown scenario: {string.Join(' ', args)}");
                return 2;
        }
    }
}
