using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Loader.Hostile;

namespace Loader.Tests.Hostile;

/// <summary>
/// The child side of <see cref="HostileBatch"/>: <c>dotnet Loader.Tests.dll hostile-batch &lt;entry&gt; &lt;progress-file&gt;
/// &lt;input-list-file&gt; [fault]</c> runs every input of the list (one path a line) through one
/// <see cref="EntryPoint"/>. Before each input it appends <c>begin&#9;path</c> to the progress file (flushed to the
/// kernel, so it survives a crash); after it, <c>end&#9;path&#9;outcome&#9;type&#9;field&#9;detail&#9;leak</c>, where
/// outcome is accepted, refused or escaped, and leak says what of the input is still in /proc/self/maps or
/// /proc/self/fd (empty when nothing).
/// </summary>
/// <remarks>
/// A fault (for the tests of this harness only) is done to every input whose file name starts with "fault":
/// <c>leak-map</c> maps the file and never unmaps it, <c>leak-anon</c> reserves 64 KiB and never unmaps it,
/// <c>leak-fd</c> opens it and never closes it, <c>throw</c> throws an exception that is not a LoaderException,
/// <c>crash</c> dies of SIGSEGV in native code, <c>hang</c> sleeps forever.
/// </remarks>
internal static unsafe class HostileBatchChild
{
    public const string Scenario = "hostile-batch";

    /// <summary>The faults a test may inject, see the remarks.</summary>
    public static readonly string[] Faults = ["leak-map", "leak-anon", "leak-fd", "throw", "crash", "hang"];

    private static readonly List<SafeHandle> LeakedHandles = []; // rooted, so no finalizer closes them

    public static int Run(string entryName, string progressPath, string listPath, string? fault)
    {
        var entry = Enum.Parse<EntryPoint>(entryName);
        string[] inputs = File.ReadAllLines(listPath).Where(l => l.Length > 0).ToArray();
        using var progress = new FileStream(progressPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        void Line(string text)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text + "\n");
            progress.Write(bytes);
            progress.Flush(); // a write(2) now: the line survives the process being killed
        }

        // The runtime's first GCs and first calls grow its own mappings: let that happen before anything is compared.
        foreach (string input in inputs.Take(1))
        {
            Line($"begin\t{input}"); // a crash here is this input's too
            for (int i = 0; i < 2; i++)
                Attempt(entry, input, fault: null);
        }
        AddressSpace.Leaks(AddressSpace.Snapshot(), inputs.FirstOrDefault() ?? "", anonymous: false);

        foreach (string input in inputs)
        {
            Line($"begin\t{input}");
            var before = AddressSpace.Snapshot();
            var (outcome, type, field, detail) = Attempt(entry, input, fault);
            string leak = AddressSpace.Leaks(before, input, anonymous: true);
            if (leak.Length > 0 && !leak.Contains(AddressSpace.OfTheInput, StringComparison.Ordinal))
            {
                // Only new anonymous ranges: the runtime may have grown a heap just now. A leak of Loader's is the same
                // on a second run of the same input; the runtime's growth is not.
                before = AddressSpace.Snapshot();
                Attempt(entry, input, fault);
                string again = AddressSpace.Leaks(before, input, anonymous: true);
                leak = again.Length == 0 ? "" : $"{leak}; on a second run: {again}";
            }
            Line(string.Join('\t', "end", input, outcome, type, field, Clean(detail), Clean(leak)));
        }
        return 0;
    }

    private static (string Outcome, string Type, string Field, string Detail) Attempt(EntryPoint entry, string input, string? fault)
    {
        try
        {
            if (fault is not null && Path.GetFileName(input).StartsWith("fault", StringComparison.Ordinal))
                Inject(fault, input);
            var refused = EntryPoints.Run(entry, input);
            return refused is null
                ? ("accepted", "", "", "")
                : ("refused", refused.GetType().Name, refused is ElfFieldException f ? f.Field : "", refused.Message);
        }
        catch (Exception e)
        {
            return ("escaped", e.GetType().FullName ?? e.GetType().Name, "", $"{e.Message} at {string.Join(" < ", TopFrames(e))}");
        }
    }

    private static string Clean(string text) => text.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ');

    private static IEnumerable<string> TopFrames(Exception e) =>
        new StackTrace(e, fNeedFileInfo: false).GetFrames().Take(6)
            .Select(f => f.GetMethod() is { } m ? $"{m.DeclaringType?.Name}.{m.Name}" : "?");

    private static void Inject(string fault, string input)
    {
        switch (fault)
        {
            case "leak-map":
            {
                int fd = open(input, 0 /* O_RDONLY */);
                nint at = mmap(0, 4096, 1 /* PROT_READ */, 2 /* MAP_PRIVATE */, fd, 0);
                close(fd);
                if (at == -1)
                    throw new InvalidOperationException("the fault could not map the input");
                break;
            }
            case "leak-anon":
                if (mmap(0, 0x10000, 0 /* PROT_NONE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0) == -1)
                    throw new InvalidOperationException("the fault could not reserve");
                break;
            case "leak-fd":
                LeakedHandles.Add(File.OpenHandle(input));
                break;
            case "throw":
                throw new InvalidOperationException("a deliberate foreign exception");
            case "crash":
                // A fault in native code, which the runtime cannot turn into an exception (a SIGSEGV sent to ourselves
                // with kill(2) did not end the process: the runtime's handler passed over it).
                strlen(1);
                break;
            case "hang":
                Thread.Sleep(Timeout.Infinite);
                break;
            default:
                throw new ArgumentException($"unknown fault {fault}", nameof(fault));
        }
    }

    [DllImport("libc", SetLastError = true)] private static extern int open(string path, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] private static extern nint mmap(nint address, nuint length, int prot, int flags, int fd, long offset);
    [DllImport("libc")] private static extern nuint strlen(nint s);

    /// <summary>
    /// What of an input is left in this process: a mapping of the file (by its path) or of a memfd
    /// named after it, a descriptor of either, or address space that was free before the input ran and is mapped
    /// anonymously after it (a reservation or a bss that was not unmapped). The runtime's own mappings come and go
    /// too, so a new anonymous range is only reported when it is still there after a full GC and a second look.
    /// </summary>
    internal static class AddressSpace
    {
        public readonly record struct Range(ulong Start, ulong End, string Permissions, ulong Inode, string Path);

        public static List<Range> Snapshot()
        {
            var ranges = new List<Range>();
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                var f = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                int dash = f[0].IndexOf('-');
                ranges.Add(new Range(ulong.Parse(f[0].AsSpan(0, dash), NumberStyles.HexNumber), ulong.Parse(f[0].AsSpan(dash + 1), NumberStyles.HexNumber),
                    f[1], ulong.Parse(f[4], CultureInfo.InvariantCulture), f.Length > 5 ? f[5].Trim() : ""));
            }
            return ranges;
        }

        /// <summary>Begins each finding about the input's own file, as opposed to a new anonymous range.</summary>
        public const string OfTheInput = "input's ";

        /// <summary>What of <paramref name="input"/> is mapped or open now; with <paramref name="anonymous"/>, also the
        /// anonymous ranges that were free in <paramref name="before"/>. Empty when nothing.</summary>
        public static string Leaks(List<Range> before, string input, bool anonymous)
        {
            var found = new List<string>();
            string name = Path.GetFileName(input);
            for (int look = 0; look < 3; look++)
            {
                found.Clear();
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                var after = Snapshot();
                foreach (var r in after)
                {
                    bool ofInput = r.Path == input || r.Path == input + " (deleted)"
                        || r.Path.StartsWith("/memfd:" + name, StringComparison.Ordinal);
                    if (ofInput)
                        found.Add($"{OfTheInput}mapping {r.Start:x}-{r.End:x} {r.Permissions} {r.Path}");
                    else if (anonymous && r.Inode == 0 && r.Path.Length == 0 && Uncovered(r, before) is { } fresh)
                        found.Add($"anonymous mapping {fresh.Start:x}-{fresh.End:x} {r.Permissions} (free before the input)");
                }
                foreach (string fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
                {
                    string? target = null;
                    try
                    {
                        target = new FileInfo(fd).LinkTarget;
                    }
                    catch (IOException)
                    {
                        // closed between the listing and the readlink (the directory's own descriptor)
                    }
                    if (target is not null && (target == input || target == input + " (deleted)" || target.StartsWith("/memfd:" + name, StringComparison.Ordinal)))
                        found.Add($"{OfTheInput}descriptor {Path.GetFileName(fd)} -> {target}");
                }
                if (found.Count == 0)
                    break;
                Thread.Sleep(10);
            }
            return string.Join("; ", found);
        }

        /// <summary>The first part of <paramref name="range"/> that no range of <paramref name="before"/> covered.</summary>
        private static (ulong Start, ulong End)? Uncovered(Range range, List<Range> before)
        {
            ulong at = range.Start;
            foreach (var b in before) // sorted by address, as the kernel lists them
            {
                if (b.End <= at)
                    continue;
                if (b.Start >= range.End)
                    break;
                if (b.Start > at)
                    return (at, b.Start);
                at = Math.Max(at, b.End);
                if (at >= range.End)
                    return null;
            }
            return at < range.End ? (at, range.End) : null;
        }
    }
}
