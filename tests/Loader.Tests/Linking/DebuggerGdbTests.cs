using System.Globalization;
using System.Text.RegularExpressions;
using Loader.Tests.Cli;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// gdb itself, on the <c>loader</c> tool calling into a fixture it mapped: the library reaches gdb through Loader's
/// namespace in the <c>r_next</c> chain (<see cref="Loader.Linking.DebuggerView"/>), so a pending breakpoint on an
/// export resolves when the library is mapped, is hit, and the backtrace and <c>info sharedlibrary</c> name it.
/// </summary>
public sealed partial class DebuggerGdbTests
{
    [Fact]
    public void Gdb_breaks_on_an_export_of_a_loader_mapped_library_and_lists_it_where_it_is_mapped()
    {
        string path = Fixtures.Path("basic.so");
        var elf = Readelf.ReadAll(path);
        var add = elf.DynamicSymbols!.Symbols.First(s => s.Name == "add");
        var text = elf.Sections!.Single(s => s.Name == ".text");

        var result = Gdb.Run("dotnet", [LoaderProcess.FindCliAssembly(), "call", path, "int add(int, int)", "1", "2"],
            setup: ["break add"], atStop: ["bt", "info sharedlibrary", "info proc mappings"]);
        string output = result.Stdout + result.Stderr;

        // Where the process has the file mapped: the bias is the start of its mapping at offset 0 (p_vaddr 0).
        ulong bias = Mappings(output, path).Where(m => m.Offset == 0).Select(m => m.Start).DefaultIfEmpty().Min();
        Assert.True(bias != 0, $"no mapping of {path} at offset 0 in gdb's 'info proc mappings':\n{output}");

        var hit = BreakpointHit().Match(output);
        Assert.True(hit.Success, $"breakpoint on add was not hit:\n{output}");
        ulong pc = Hex(hit.Groups["pc"].Value);
        Assert.Equal(path, hit.Groups["file"].Value);
        Assert.InRange(pc, bias + add.Value, bias + add.Value + add.Size - 1);

        Assert.Matches(new Regex($@"^#0\s+0x0*{pc:x} in add \(\) from {Regex.Escape(path)}$", RegexOptions.Multiline), output);

        // info sharedlibrary's From and To are the bounds of the library's .text as mapped.
        var row = SharedLibraryRow().Matches(output).SingleOrDefault(m => m.Groups["file"].Value == path);
        Assert.True(row is not null, $"{path} is not in gdb's 'info sharedlibrary':\n{output}");
        Assert.Equal((bias + text.Address, bias + text.Address + text.Size), (Hex(row.Groups["from"].Value), Hex(row.Groups["to"].Value)));

        Assert.DoesNotContain("Corrupted shared library list", output, StringComparison.Ordinal);
        Assert.Contains("3", result.Stdout, StringComparison.Ordinal); // and the call went on to return 1 + 2
    }

    [Fact]
    public void Gdb_breaks_in_a_constructor_of_a_loader_mapped_library_and_lists_its_loader_mapped_dependency()
    {
        // Listed from mapping on, before relocation: a breakpoint in DT_INIT is set by the time initializers run.
        string path = Fixtures.Path("linking/libctors.so"), dependency = Fixtures.Path("linking/libctors_log.so");
        var result = Gdb.Run("dotnet", [LoaderProcess.FindCliAssembly(), "call", path, "int constructors_run(void)"],
            setup: ["break ctors_dt_init"], atStop: ["bt", "info sharedlibrary"]);
        string output = result.Stdout + result.Stderr;

        Assert.Matches(new Regex($@"^#0\s+0x[0-9a-f]+ in ctors_dt_init \(\) from {Regex.Escape(path)}$", RegexOptions.Multiline), output);
        var listed = SharedLibraryRow().Matches(output).Select(m => m.Groups["file"].Value).ToList();
        Assert.True(listed.Contains(path) && listed.Contains(dependency), $"{path} and {dependency} are not both in 'info sharedlibrary':\n{output}");
        Assert.DoesNotContain("Corrupted shared library list", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Gdb_attached_to_a_running_process_lists_the_library_and_names_its_frames()
    {
        // gdb -p PID, as a user debugging a live process would: the library was mapped before gdb came, so gdb reads
        // Loader's namespace from the r_next chain at attach time (no r_brk event).
        string path = Fixtures.Path("debug/libsleeper.so");
        using var process = ChildProcess.Start("dotnet", [LoaderProcess.FindCliAssembly(), "call", path, "int sleeper_wait(int)", "60"]);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!File.ReadAllText($"/proc/{process.Id}/maps").Contains(path, StringComparison.Ordinal))
            {
                Assert.False(process.HasExited, "loader call exited before it mapped the library");
                Assert.True(DateTime.UtcNow < deadline, "loader call did not map the library within 30 s");
                Thread.Sleep(20);
            }
            Thread.Sleep(200); // into sleeper_wait: the mapping comes before the call

            var result = Gdb.Attach(process.Id, ["info sharedlibrary", "thread apply all bt"]);
            string output = result.Stdout + result.Stderr;
            ulong bias = File.ReadLines($"/proc/{process.Id}/maps").Where(l => l.EndsWith(path, StringComparison.Ordinal))
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => Hex(f[2]) == 0).Select(f => Hex(f[0].Split('-')[0])).Single();
            var text = Readelf.ReadAll(path).Sections!.Single(s => s.Name == ".text");

            var row = SharedLibraryRow().Matches(output).SingleOrDefault(m => m.Groups["file"].Value == path);
            Assert.True(row is not null, $"info sharedlibrary does not list {path}:\n{output}");
            Assert.Equal(bias + text.Address, Hex(row.Groups["from"].Value));
            Assert.Matches(new Regex(@"#\d+\s+(?:0x[0-9a-f]+ in )?sleeper_inner \(\) from " + Regex.Escape(path)), output);
            Assert.Matches(new Regex(@"#\d+\s+(?:0x[0-9a-f]+ in )?sleeper_wait \(\) from " + Regex.Escape(path)), output);
            Assert.DoesNotContain("Corrupted shared library list", output, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    private static ulong Hex(string digits) => ulong.Parse(digits, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static IEnumerable<(ulong Start, ulong Offset)> Mappings(string output, string path) =>
        MappingRow().Matches(output).Where(m => m.Groups["file"].Value == path)
            .Select(m => (Hex(m.Groups["start"].Value), Hex(m.Groups["offset"].Value)));

    [GeneratedRegex(@"Breakpoint 1, 0x(?<pc>[0-9a-f]+) in add \(\) from (?<file>\S+)$", RegexOptions.Multiline)]
    private static partial Regex BreakpointHit();

    // "0x00007f0350167050  0x00007f0350167248  Yes (*)     /path/basic.so"
    [GeneratedRegex(@"^0x(?<from>[0-9a-f]+)\s+0x(?<to>[0-9a-f]+)\s+(?:Yes|No)(?: \(\*\))?\s+(?<file>\S+)$", RegexOptions.Multiline)]
    private static partial Regex SharedLibraryRow();

    // gdb 13: "Start Addr  End Addr  Size  Offset  Perms  objfile" (older gdbs print no Perms column).
    [GeneratedRegex(@"^\s*0x(?<start>[0-9a-f]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x(?<offset>[0-9a-f]+)\s+(?:[rwxsp-]{4}\s+)?(?<file>/\S+)$", RegexOptions.Multiline)]
    private static partial Regex MappingRow();
}
