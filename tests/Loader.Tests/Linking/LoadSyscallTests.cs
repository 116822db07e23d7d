using System.Text.RegularExpressions;
using Loader.Tests.Oracles;
using Xunit.Abstractions;

namespace Loader.Tests.Linking;

/// <summary>
/// The system calls one load makes, against glibc's <c>dlopen</c> of the same library: each side loads a warm-up copy
/// first, then a fresh copy between two marker calls (<c>access</c> or <c>stat</c> of a path that strace prints), and
/// only the calls of the marked thread between the markers are counted (<c>strace -f</c>, not <c>-c</c>: the runtime's
/// other threads and its start-up are not the load). Loader's side is a warmed-up JIT child of this test assembly
/// (<see cref="ChildEntryPoint.MarkedLoads"/>): publishing the NativeAOT CLI inside a test run takes minutes, and after a
/// first load the second one runs the same code with nothing left to compile, so its calls are the loader's own.
/// glibc's side is <c>tools/load_marked</c>, built by scripts/build-fixtures.sh.
/// </summary>
public sealed class LoadSyscallTests(ITestOutputHelper output)
{
    public const string BeginMarker = "/loader-marker-begin";
    public const string EndMarker = "/loader-marker-end";

    /// <summary>
    /// What Loader may make beyond glibc's calls, for each object glibc opened (one <c>openat</c> each): the PROT_NONE
    /// reservation, the one extra the design pays for mapping only inside its own range. The load's one fstat comes
    /// after the overlays but the unwind table's own (identity, type and length, before any file page is touched, so a
    /// file cut short is refused, not a SIGBUS); the table is checked in the first overlay's longer mapping, whose pages
    /// its own overlay, made last, replaces, so no madvise drops them; PT_DYNAMIC and the section headers are read from
    /// the mapped image or not at all, as glibc does; a dependency the search found is mapped from the descriptor and
    /// the page the search opened and read, as glibc maps from open_verify's.
    /// </summary>
    private const int AllowancePerObject = 1;

    private static readonly Regex Call = new(@"^(?<tid>\d+)\s+(?:<\.\.\. (?<resumed>\w+) resumed>|(?<name>\w+)\()");

    /// <param name="library">The library counted, a fresh copy of it.</param>
    /// <param name="warmUp">What each side loads first (null: copies of <paramref name="library"/>). libssl's load
    /// searches for libcrypto, which glibc keeps loaded (NODELETE) once a warm-up copy has loaded it: the warm-up is
    /// then another library whose load searches too (libunwind needs liblzma), so that both sides have read
    /// /etc/ld.so.cache before the count, and both search for and map libcrypto in it.</param>
    [Theory]
    [InlineData("libz.so.1", null, 0)]
    [InlineData("libsqlite3.so.0", null, 1)]
    [InlineData("libssl.so.3", "libunwind.so.8", 2)]
    public void A_load_makes_at_most_the_system_calls_glibc_makes_plus_the_named_extras(string library, string? warmUp, int populated)
    {
        string dir = Directory.CreateTempSubdirectory("loader-syscalls-").FullName;
        try
        {
            string system = Path.Combine("/usr/lib/x86_64-linux-gnu", library);
            string warmUpSystem = Path.Combine("/usr/lib/x86_64-linux-gnu", warmUp ?? library);
            // Loader's side loads twice before the counted load: the first load makes the process dlopen libgcc_s (for
            // __register_frame) when it has not yet, and the next one reads that new host module once; a long-running
            // process pays both once, not per load.
            string[] copies = ["warm-glibc", "counted-glibc", "warm-loader", "warm2-loader", "counted-loader"];
            foreach (string copy in copies)
                File.Copy(copy.StartsWith("counted", StringComparison.Ordinal) ? system : warmUpSystem, Path.Combine(dir, copy + ".so"));
            string P(int i) => Path.Combine(dir, copies[i] + ".so");

            var glibc = Count(dir, "glibc", Fixtures.Path("tools/load_marked"), [P(0), P(1)]);
            // The NativeAOT-published CLI when .ci/run has published it (LOADER_AOT_CLI), as the issue asks: `loader try`
            // brackets each load with markers under LOADER_SYSCALL_MARKERS=1. Otherwise a warmed-up JIT child.
            string? aot = Environment.GetEnvironmentVariable(AotCliVariable);
            bool useAot = !string.IsNullOrEmpty(aot) && File.Exists(aot);
            var ours = useAot
                ? Count(dir, "loader", aot!, ["try", P(2), P(3), P(4)], markers: true)
                : Count(dir, "loader", "dotnet", [typeof(LoadSyscallTests).Assembly.Location, ChildEntryPoint.MarkedLoads, P(2), P(3), P(4)]);
            output.WriteLine(useAot ? $"Loader's side: the NativeAOT CLI {aot}" : "Loader's side: a JIT child of the test assembly");
            int heapCommits = RemoveHeapCommits(ours);

            string glibcNames = string.Join(' ', glibc.Select(c => c.Name));
            string ourNames = string.Join(' ', ours.Select(c => c.Name));
            output.WriteLine($"{library}: glibc {glibc.Count} calls: {glibcNames}");
            output.WriteLine($"{library}: Loader {ours.Count} calls: {ourNames} (and {heapCommits} runtime heap commits)");
            Assert.True(glibc.Count >= 5, $"glibc's count looks wrong: {glibcNames}");
            Assert.Contains(ours, c => c.Name == "mmap");
            // The RELRO mprotect is the loader's own, on both sides: a filter that took it for the runtime's is wrong.
            // strace may print a call another thread interrupted as "mprotect(addr, len, PROT_READ <unfinished ...>":
            // the protection is matched as a word, not by the parenthesis after it.
            Assert.Contains(ours, c => c.Name == "mprotect" && ReadOnlyProtection.IsMatch(c.Line));
            // The objects glibc opened: not its /etc/ld.so.cache, which it maps for each dlopen that searches and unmaps
            // again at the end (Loader reads it once for the process).
            int objects = glibc.Count(c => c.Name == "openat" && !c.Line.Contains("ld.so.cache", StringComparison.Ordinal));
            Assert.True(objects >= (warmUp is null ? 1 : 2), $"glibc opened {objects} objects: {glibcNames}");
            int allowance = AllowancePerObject * objects;
            Assert.True(ours.Count <= glibc.Count + allowance,
                $"{library}: Loader made {ours.Count} system calls ({ourNames}), glibc {glibc.Count} ({glibcNames}); allowed {allowance} more");
            // The writable segments of eight pages or more (libsqlite3's 10, libssl's 14 and libcrypto's 101; not libz's 2)
            // are populated by their own overlay's mmap (WritablePrefault), read-write: no call is added for it.
            var populating = ours.Where(c => c.Name == "mmap" && c.Line.Contains("MAP_POPULATE", StringComparison.Ordinal)).ToList();
            Assert.True(populated == populating.Count, $"{library}: {populating.Count} mmaps with MAP_POPULATE, expected {populated}: " +
                string.Join(" | ", populating.Select(c => c.Line)));
            Assert.All(populating, c => Assert.Contains("PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_POPULATE", c.Line));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Takes out the .NET runtime's heap commits that the load's managed allocations happen to trigger: an
    /// <c>mprotect</c> making pages writable directly followed by <c>madvise(…, MADV_DODUMP)</c> of the same address —
    /// the runtime's calls, made or not depending on where the allocation context stands, not the loader's (whose
    /// mprotects make pages read-only). Returns how many pairs it removed.
    /// </summary>
    private static int RemoveHeapCommits(List<(string Name, string Line)> calls)
    {
        int removed = 0;
        for (int i = 0; i + 1 < calls.Count; i++)
        {
            if (IsHeapCommit(calls[i].Line, calls[i + 1].Line))
            {
                calls.RemoveRange(i, 2);
                removed++;
                // A commit can fall between the two calls of another commit: look at the pair the removal joined too.
                i = Math.Max(i - 2, -1);
            }
        }
        return removed;
    }

    private static readonly Regex Commit = new(@"mprotect\((?<address>0x[0-9a-f]+), \d+, PROT_READ\|PROT_WRITE");
    private static readonly Regex DumpAdvice = new(@"madvise\((?<address>0x[0-9a-f]+), \d+, MADV_DODUMP\b");
    private static readonly Regex ReadOnlyProtection = new(@"^\d+\s+mprotect\(0x[0-9a-f]+, \d+, PROT_READ(\)| <unfinished)");

    private static bool IsHeapCommit(string first, string second)
    {
        var commit = Commit.Match(first);
        var advice = DumpAdvice.Match(second);
        return commit.Success && advice.Success && commit.Groups["address"].Value == advice.Groups["address"].Value;
    }

    /// <summary>The environment variable naming the published NativeAOT <c>loader</c> (set by .ci/run).</summary>
    public const string AotCliVariable = "LOADER_AOT_CLI";

    /// <summary>The calls the marked thread made between the markers, in order: each name and its strace line.</summary>

    private List<(string Name, string Line)> Count(string dir, string side, string program, string[] arguments, bool markers = false)
    {
        string log = Path.Combine(dir, side + ".strace");
        // The runtime's W^X double mapping makes calls of its own (mmap/munmap/mprotect of a code page) when a stub is
        // first written; off, the marked window holds only what the loader asked for. A 64 MB first generation keeps
        // a collection (and the GC's own decommits on the loading thread) out of the few loads these children make.
        var run = ChildProcess.Run("strace", ["-f", "-qq", "-o", log, program, .. arguments],
            new Dictionary<string, string?>
            {
                ["DOTNET_EnableWriteXorExecute"] = "0",
                ["DOTNET_GCgen0size"] = "0x4000000",
                ["LOADER_SYSCALL_MARKERS"] = markers ? "1" : null,
            });
        Assert.True(run.ExitCode == 0, $"{side}: exit {run.ExitCode}: {run.Stderr}");
        var lines = File.ReadAllLines(log);
        // The last load is the one counted (the earlier ones warm up whatever a first load sets up once).
        int begin = Array.FindLastIndex(lines, l => l.Contains(BeginMarker, StringComparison.Ordinal));
        int end = begin < 0 ? -1 : Array.FindIndex(lines, begin, l => l.Contains(EndMarker, StringComparison.Ordinal));
        Assert.True(begin >= 0 && end > begin, $"{side}: markers not found in {lines.Length} lines of strace output");
        string tid = Call.Match(lines[begin]).Groups["tid"].Value;
        var calls = new List<(string, string)>();
        for (int i = begin + 1; i < end; i++)
        {
            var m = Call.Match(lines[i]);
            // A call another thread interrupted shows twice (unfinished, then resumed): count it once.
            if (m.Success && m.Groups["tid"].Value == tid && !m.Groups["resumed"].Success)
                calls.Add((m.Groups["name"].Value, lines[i]));
        }
        return calls;
    }
}
