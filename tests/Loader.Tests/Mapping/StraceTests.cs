using Loader.Tests.Cli;
using Loader.Tests.Oracles;

namespace Loader.Tests.Mapping;

/// <summary>
/// The kernel's side of <c>loader trace</c>: strace (<c>-f -e trace=mmap,mprotect,munmap</c>) over the built tool, and
/// every step the trace printed found among the process's calls — the .NET runtime's own included (its GC reserves
/// with PROT_NONE too) — by address and length, in order: one PROT_NONE reservation, the trims, MAP_FIXED overlays
/// inside it at base + pagedown(p_vaddr) from the right file offsets, the .bss and RELRO steps, the final munmap.
/// </summary>
[Collection("AddressSpace")]
public sealed class StraceTests
{
    [Theory]
    [InlineData("basic.so")]
    [InlineData("maxpage_2m.so")]
    [InlineData("bigbss.so")]
    [InlineData("dirty_bss_tail.so")]
    public void The_kernel_saw_every_step_the_trace_printed_in_order(string fixture)
    {
        string path = Fixtures.Path(fixture);
        var expected = MappingExpectations.FromReadelf(path);
        string log = Path.Combine(Path.GetTempPath(), $"loader-strace-{Guid.NewGuid():N}.txt");
        try
        {
            var run = ChildProcess.Run("strace", "-f", "-e", "trace=mmap,mprotect,munmap", "-o", log,
                "dotnet", LoaderProcess.FindCliAssembly(), "trace", path, "--json");
            Assert.True(run.ExitCode == 0, $"strace ... loader trace exited {run.ExitCode}: {run.Stderr}");
            var (bias, start, size, steps) = TraceJson.Parse(run.Stdout);
            var calls = Strace.ParseMemoryCalls(File.ReadAllLines(log));
            ulong end = start + size;

            // Find each printed system call, in order, among everything the process did.
            var matched = new List<(TraceJson.Step Step, Strace.SyscallLine Call)>();
            int at = 0;
            foreach (var step in steps.Where(s => s.SystemCall is not null))
            {
                int found = calls.FindIndex(at, c => Matches(step, c));
                Assert.True(found >= 0, $"step {step.Index} ({step.Phase}: {step.SystemCall} 0x{step.Address:x} +0x{step.Length:x}) " +
                    $"not found in strace's output after call {at}:\n{string.Join('\n', calls.Skip(at).Take(40).Select(c => c.Text))}");
                matched.Add((step, calls[found]));
                at = found + 1;
            }

            // One PROT_NONE reservation, and it holds the image: the kernel returned the address the trace printed.
            var reserve = Assert.Single(matched, m => m.Step.Kind == "Reserve");
            Assert.Equal("PROT_NONE", reserve.Call.Args[2]);
            Assert.Equal("NULL", reserve.Call.Args[0]);
            Assert.Contains("MAP_NORESERVE", reserve.Call.Args[3]);
            Assert.True(Strace.ParseNumber(reserve.Call.Result) <= start && start + size <= Strace.ParseNumber(reserve.Call.Result) + reserve.Call.Arg(1));

            // Trims (max-page-size > page) cut the over-reservation down to the span; then every overlay lands MAP_FIXED
            // inside the reservation at base + pagedown(p_vaddr), mapping pagedown(p_offset) of our file.
            var trims = matched.Where(m => m.Step.Kind == "Trim").ToList();
            Assert.Equal(expected.Alignment > (ulong)Environment.SystemPageSize, trims.Count > 0);
            Assert.Equal(reserve.Call.Arg(1), size + trims.Aggregate(0UL, (sum, t) => sum + t.Call.Arg(1)));
            var overlays = matched.Where(m => m.Step.Kind == "Overlay").Select(m => m.Call).ToList();
            Assert.Equal(expected.InMappingOrder(overlays[0].Arg(1)).Select(o => (bias + o.Address, o.FileOffset)), overlays.Select(c => (c.Arg(0), c.Arg(5))));
            foreach (var overlay in overlays)
            {
                Assert.Contains("MAP_FIXED", overlay.Args[3]);
                Assert.NotEqual("-1", overlay.Args[4]);
                Assert.True(overlay.Arg(0) >= start && overlay.Arg(0) + overlay.Arg(1) <= end);
            }

            // .bss pages (anonymous, MAP_FIXED) and RELRO (mprotect PROT_READ) where readelf implies them, after the overlays.
            Assert.Equal(expected.BssPages, matched.Where(m => m.Step.Kind == "MapBss")
                .Select(m => (m.Call.Arg(0) - bias, m.Call.Arg(0) + m.Call.Arg(1) - bias)));
            Assert.All(matched.Where(m => m.Step.Kind == "MapBss"), m => Assert.Contains("MAP_ANONYMOUS", m.Call.Args[3]));
            var relro = matched.Where(m => m.Step.Kind == "ProtectRelro").ToList();
            Assert.Equal(expected.Relro is { } r ? [r] : [], relro.Select(m => (m.Call.Arg(0) - bias, m.Call.Arg(0) + m.Call.Arg(1) - bias)));
            Assert.All(relro, m => Assert.Equal("PROT_READ", m.Call.Args[2]));
            int lastOverlay = matched.FindLastIndex(m => m.Step.Kind == "Overlay");
            Assert.All(matched.Skip(lastOverlay + 1), m => Assert.DoesNotContain(m.Step.Kind, new[] { "Reserve", "Trim", "Overlay" }));

            // Last: Dispose's munmap of exactly the reservation.
            var unmap = matched[^1];
            Assert.Equal(("Unmap", "munmap", start, size), (unmap.Step.Kind, unmap.Call.Name, unmap.Call.Arg(0), unmap.Call.Arg(1)));

            // MAP_FIXED only ever lands inside our own reservation: no other MAP_FIXED call touches it.
            var ours = matched.Select(m => m.Call).ToHashSet();
            Assert.DoesNotContain(calls, c => c.Name == "mmap" && c.Args[3].Contains("MAP_FIXED") && !ours.Contains(c)
                && c.Arg(0) < end && start < c.Arg(0) + c.Arg(1) && calls.IndexOf(c) > calls.IndexOf(reserve.Call)
                && calls.IndexOf(c) < calls.IndexOf(unmap.Call));
        }
        finally
        {
            File.Delete(log);
        }
    }

    private static bool Matches(TraceJson.Step step, Strace.SyscallLine call)
    {
        if (call.Name != step.SystemCall || call.Result.StartsWith('-'))
            return false;
        switch (call.Name)
        {
            case "mmap":
                bool kernelChose = step.Kind is "Reserve";
                return (kernelChose ? call.Args[0] == "NULL" : call.Arg(0) == step.Address)
                    && Strace.ParseNumber(call.Result) == step.Address
                    && call.Arg(1) == step.Length
                    && call.Args[2] == step.Protection
                    && SameFlags(call.Args[3], step.Flags)
                    && (step.FileOffset is { } offset ? call.Args[4] != "-1" && call.Arg(5) == offset : call.Args[4] == "-1");
            case "mprotect":
                return call.Arg(0) == step.Address && call.Arg(1) == step.Length && call.Args[2] == step.Protection;
            default:
                return call.Arg(0) == step.Address && call.Arg(1) == step.Length;
        }
    }

    private static bool SameFlags(string a, string b) =>
        new HashSet<string>(a.Split('|')).SetEquals(b.Split('|'));
}
