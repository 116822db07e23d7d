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

    /// <summary>Map a file with <see cref="Loader.Mapping.ElfImage.Map(string, Loader.Mapping.MapOptions?)"/>, cutting it to one page
    /// just before the first mapping step of the given kind; prints <c>mapped</c> or <c>refused: Type: message</c>.</summary>
    public const string TruncateDuringMap = "truncate-during-map";

    /// <summary>Load each path into a new context, the last between two marker calls that strace shows by name
    /// (<see cref="Linking.LoadSyscallTests"/>): the loads before it warm up the JIT and the host module list.</summary>
    public const string MarkedLoads = "marked-loads";

    /// <summary>One load of the path in a new context, a lookup of the export named (a hit) and of a name it does not
    /// define (a miss), and the unload, between <see cref="BeforeFirstLoad"/> and
    /// <see cref="AfterFirstLoad"/>, whose first calls put them in the JIT's list of what it compiled
    /// (<see cref="Cli.PackagingTests"/>).</summary>
    public const string FirstLoad = "first-load";

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    public static void BeforeFirstLoad() { }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    public static void AfterFirstLoad() { }

    private static string[] EventSourceNames() =>
        System.Diagnostics.Tracing.EventSource.GetSources().Select(source => source.Name).ToArray();

    public static int Main(string[] args)
    {
        switch (args)
        {
            case [FirstLoad, string path, string export]:
            {
                var sourcesBefore = EventSourceNames();
                BeforeFirstLoad();
                using (var library = new LoaderContext().Load(path))
                {
                    if (library.GetExport(export) == 0 || library.TryGetExport(export + "_not_defined", out _))
                        return 1;
                }
                AfterFirstLoad();
                // The load path makes no EventSource of the framework's (ArrayPool<byte>.Shared's first use made one).
                var made = EventSourceNames().Except(sourcesBefore).ToArray();
                if (made.Length > 0)
                {
                    Console.WriteLine($"the first load made event sources: {string.Join(", ", made)}");
                    return 3;
                }
                return 0;
            }
            case [MarkedLoads, .. var paths]:
                for (int i = 0; i < paths.Length; i++)
                {
                    bool last = i == paths.Length - 1;
                    if (last)
                        File.Exists(Linking.LoadSyscallTests.BeginMarker);
                    var library = new LoaderContext().Load(paths[i]);
                    if (last)
                        File.Exists(Linking.LoadSyscallTests.EndMarker);
                    GC.KeepAlive(library);
                }
                return 0;
            case [Linking.UnwindTablePagesTests.Scenario, string forLoader, string forGlibc, string from, string to, string frame]:
                return Linking.UnwindTablePagesTests.Measure(forLoader, forGlibc,
                    ulong.Parse(from, System.Globalization.CultureInfo.InvariantCulture),
                    ulong.Parse(to, System.Globalization.CultureInfo.InvariantCulture),
                    ulong.Parse(frame, System.Globalization.CultureInfo.InvariantCulture));
            case [Linking.UnwindTableOptionTests.Scenario, string path, string register]:
                return Linking.UnwindTableOptionTests.Run(path, register == "on");
            case [Linking.UnwindEntryTests.Scenario, string path, string frame, string mode]:
                return Linking.UnwindEntryTests.Run(path, ulong.Parse(frame, System.Globalization.CultureInfo.InvariantCulture), mode);
            case [TruncateAfterOpen, string path]:
                using (var elf = ElfFile.Open(path))
                {
                    File.WriteAllBytes(path, []);
                    Console.WriteLine($"read {ElfReadAll.ReadEverything(elf)}");
                }
                return 0;
            case [TruncateDuringMap, string path, string kind]:
                Console.WriteLine(Mapping.ShrinkingFile.MapWhileCutting(path, Enum.Parse<Loader.Mapping.MappingStepKind>(kind)));
                return 0;
            case [TruncateDuringMap, string path, string kind, "prefault"]:
                Console.WriteLine(Mapping.ShrinkingFile.MapWhileCutting(path, Enum.Parse<Loader.Mapping.MappingStepKind>(kind), prefault: true));
                return 0;
            case [Hostile.HostileBatchChild.Scenario, string entry, string progress, string list]:
                return Hostile.HostileBatchChild.Run(entry, progress, list, fault: null);
            case [Hostile.HostileBatchChild.Scenario, string entry, string progress, string list, string fault]:
                return Hostile.HostileBatchChild.Run(entry, progress, list, fault);
            case [Linking.MemoryHeldChild.LoadUnloadCycles, string path, string warmup, string cycles]:
                return Linking.MemoryHeldChild.LoadAndUnload(path, int.Parse(warmup, System.Globalization.CultureInfo.InvariantCulture),
                    int.Parse(cycles, System.Globalization.CultureInfo.InvariantCulture));
            case [Linking.MemoryHeldChild.RetainedPerLibrary, string count, string path]:
                return Linking.MemoryHeldChild.Retained(int.Parse(count, System.Globalization.CultureInfo.InvariantCulture), path);
            case [Linking.MemoryHeldChild.RetainedInOneContext, .. var paths]:
                return Linking.MemoryHeldChild.RetainedInOne(paths);
            case [Linking.UnloadSequence.GlibcScenario, string root, string seed, string steps]:
                return Linking.UnloadSequence.RunWithGlibc(root, int.Parse(seed, System.Globalization.CultureInfo.InvariantCulture),
                    int.Parse(steps, System.Globalization.CultureInfo.InvariantCulture));
            case [Linking.HostWalkChild.Scenario, .. var tlsLibraries]:
                return Linking.HostWalkChild.Run(tlsLibraries);
            case [Linking.TlsServerTests.ThreadExitsScenario, string path, string serve, string rounds]:
                return Linking.TlsServerTests.MeasureThreadExits(path, bool.Parse(serve),
                    int.Parse(rounds, System.Globalization.CultureInfo.InvariantCulture));
            case [Linking.TlsServerTests.WithoutStaticSlotScenario, string initialExec, string dynamic]:
                return Linking.TlsServerTests.ServeWithoutStaticSlot(initialExec, dynamic);
            case [Linking.TlsServerTests.RollbackScenario, string tlsDirectory]:
                return Linking.TlsServerTests.RollBack(tlsDirectory);
            case [CultureFreeTests.Scenario, string directory]:
                return CultureFreeTests.RunChild(directory);
            case [Hostile.RegressionInputs.Scenario, string directory]:
                return Hostile.RegressionInputs.Write(directory);
            default:
                Console.Error.WriteLine($"unknown scenario: {string.Join(' ', args)}");
                return 2;
        }
    }
}
