using System.Globalization;
using Loader.Elf;
using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// The pages of <c>.eh_frame</c> a load leaves in the process, against glibc's <c>dlopen</c> of the same file: glibc
/// never reads the table at load, while Loader walks all of it before registering it with libgcc. The walk's pages must
/// not stay resident (the kernel's <c>/proc/self/pagemap</c> says which pages of the process are present), and for
/// ld's usual layout they go without a <c>madvise</c> of their own: the mapper walks the table in its longer first
/// overlay, which the table's own overlay, made last, replaces. Measured in a child process: a C++ exception thrown meanwhile by another
/// test of this process would make libgcc read every registered table.
/// </summary>
public sealed class UnwindTablePagesTests : IDisposable
{
    /// <summary>The child's scenario: <c>eh-frame-pages LOADER-COPY GLIBC-COPY FROM TO</c>; prints <c>present OURS
    /// GLIBCS</c>, then the first overlay's step and the image's range.</summary>
    public const string Scenario = "eh-frame-pages";

    private readonly string _directory = Directory.CreateTempSubdirectory("loader-unwind-pages-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("libsqlite3.so.0")]
    [InlineData("libxml2.so.2")]
    public void The_eh_frame_pages_the_check_walked_are_not_left_resident(string library)
    {
        string system = SystemLibraries.Require(library);
        // Copies of their own, so neither side finds pages another mapping of the same file made present.
        string forLoader = Path.Combine(_directory, "loader-" + library), forGlibc = Path.Combine(_directory, "glibc-" + library);
        File.Copy(system, forLoader);
        File.Copy(system, forGlibc);
        var (frame, frameEnd) = EhFrame(system);
        ulong page = (ulong)Environment.SystemPageSize;
        // Whole pages of the table only: the first, shared with .eh_frame_hdr, holds the word libgcc reads at registration.
        ulong from = (frame + page - 1) & ~(page - 1), to = frameEnd & ~(page - 1);
        Assert.True(to - from >= 8 * page, $"{library}'s .eh_frame is too small for this test: [0x{frame:x}, 0x{frameEnd:x})");

        var run = ChildProcess.Run("dotnet", typeof(UnwindTablePagesTests).Assembly.Location, Scenario, forLoader, forGlibc,
            from.ToString(CultureInfo.InvariantCulture), to.ToString(CultureInfo.InvariantCulture), frame.ToString(CultureInfo.InvariantCulture));

        Assert.True(run.ExitCode == 0, $"the child exited {run.ExitCode}: {run.Stdout}{run.Stderr}");
        var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var present = lines[0].Split(' ');
        int ours = int.Parse(present[1], CultureInfo.InvariantCulture), glibcs = int.Parse(present[2], CultureInfo.InvariantCulture);
        Assert.True(ours <= glibcs, $"{library}: {ours} of the {(to - from) / page} whole pages of .eh_frame are present after Loader's load, {glibcs} after glibc's");
        // The usual layout: the table was walked in the first overlay's longer mapping, so no madvise was needed.
        Assert.Equal("registered at the table", lines[1]);
        Assert.Equal("first overlay reaches past the table", lines[2]);
    }

    /// <summary>The child's side: loads both copies, one through Loader and one through glibc, and reports.</summary>
    public static int Measure(string forLoader, string forGlibc, ulong from, ulong to, ulong frame)
    {
        using var lib = new LoaderContext().Load(forLoader);
        int ours = PresentPages(lib.BaseAddress, from, to);
        nint handle = Glibc.Open(forGlibc);
        if (handle == 0)
        {
            Console.Error.WriteLine(Glibc.LastError());
            return 1;
        }
        int glibcs = PresentPages(Glibc.LoadBias(handle), from, to);
        Glibc.Close(handle);
        var firstOverlay = lib.MappingSteps.First(s => s.Kind == MappingStepKind.Overlay);
        Console.WriteLine($"present {ours} {glibcs}");
        Console.WriteLine(lib.LoadedModule.RegisteredEhFrame == lib.BaseAddress + (nint)frame ? "registered at the table" : $"registered at {lib.LoadedModule.RegisteredEhFrame}");
        Console.WriteLine(firstOverlay.Length > lib.Plan!.Overlays[0].Length && (ulong)firstOverlay.Address + firstOverlay.Length >= (ulong)lib.BaseAddress + to
            ? "first overlay reaches past the table"
            : $"the first overlay maps 0x{firstOverlay.Length:x} bytes at 0x{firstOverlay.Address:x}: {firstOverlay.Reason}");
        return 0;
    }

    private static (ulong Start, ulong End) EhFrame(string path)
    {
        using var file = ElfFile.Open(path);
        var frame = file.Sections.Single(s => s.Name == ".eh_frame");
        return (frame.Address, frame.Address + frame.Size);
    }

    private static int PresentPages(nint bias, ulong from, ulong to) => PageMap.PresentPages((nint)((ulong)bias + from), to - from);
}
