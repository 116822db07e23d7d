using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// <see cref="LoadOptions.RegisterUnwindTables"/> false: an image's <c>.eh_frame</c> is neither checked nor
/// registered, and the load reads nothing of it. The oracle is libgcc itself: <c>_Unwind_Find_FDE</c> finds no frame
/// of such an image (and finds them in a copy loaded with the default), a backtrace from inside it stops at its first
/// frame, and an exception thrown and caught inside it ends a child process in <c>std::terminate</c>.
/// </summary>
public sealed unsafe class UnwindTableOptionTests : IDisposable
{
    public const string Scenario = "unwind-tables-option";

    private static readonly LoadOptions NoUnwindTables = new() { RegisterUnwindTables = false };
    private static string Thrower => Fixtures.Path("cxx/libcxx_thrower.so");
    private readonly string _directory = Directory.CreateTempSubdirectory("loader-unwind-option-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Libgcc_finds_no_frame_of_an_image_loaded_without_its_unwind_table_and_finds_those_of_the_default_load()
    {
        using var without = new LoaderContext().Load(Thrower, NoUnwindTables);
        using var with = new LoaderContext().Load(Thrower);

        Assert.Equal(UnwindTableState.NotRegistered, without.UnwindTable);
        Assert.Null(without.LoadedModule.RegisteredEhFrame);
        Assert.Equal(UnwindTableState.Registered, with.UnwindTable);
        Assert.Equal(0, Libgcc.FindFde(without.GetExport("thrower_catch_inside") + 1));
        Assert.NotEqual(0, Libgcc.FindFde(with.GetExport("thrower_catch_inside") + 1));

        // What does not unwind still works: a virtual call through an object the library made.
        var make = (delegate* unmanaged<int, nint>)without.GetExport("thrower_make_shape");
        var free = (delegate* unmanaged<nint, void>)without.GetExport("thrower_free_shape");
        nint shape = make(4);
        Assert.NotEqual(0, shape);
        free(shape);
    }

    [Fact]
    public void A_backtrace_from_inside_such_an_image_stops_at_its_first_frame()
    {
        using var lib = new LoaderContext().Load(Thrower, NoUnwindTables);
        var (count, inImage) = CxxExceptionTests.BacktraceFrom(lib, depth: 5);

        // Six of the library's frames are on the stack (CxxExceptionTests finds them all with the table registered):
        // libgcc records the first and cannot step out of it.
        Assert.True(inImage <= 1, $"{inImage} of {count} frames lie in the image");
    }

    [Fact]
    public void The_table_is_not_read_so_a_malformed_header_does_not_stop_the_load_and_the_overlays_keep_the_plan_s_order()
    {
        // The default load refuses this copy (UnwindRegistryTests): its .eh_frame_hdr says version 2.
        string path = Path.Combine(_directory, "libcxx_thrower.so");
        byte[] bytes = File.ReadAllBytes(Thrower);
        using (var file = Loader.Elf.ElfFile.Open(Thrower))
        {
            ulong hdr = file.Sections.Single(s => s.Name == ".eh_frame_hdr").Offset;
            Assert.Equal(1, bytes[hdr]);
            bytes[hdr] = 2;
        }
        File.WriteAllBytes(path, bytes);
        Assert.Throws<ElfFormatException>(() => new LoaderContext().Load(path));

        using var lib = new LoaderContext().Load(path, NoUnwindTables);
        Assert.Equal(UnwindTableState.NotRegistered, lib.UnwindTable);
        // Each overlay maps its own PT_LOAD's pages: the first does not reach on through the table's segment, as it
        // does when the table is checked there (then one overlay fewer is made before the table's own, last).
        var overlays = lib.Plan!.Overlays.Where(o => o.Length > 0).ToList();
        var steps = lib.MappingSteps.Where(s => s.Kind == MappingStepKind.Overlay).ToList();
        Assert.Equal(overlays.Count, steps.Count);
        for (int i = 0; i < steps.Count; i++)
        {
            Assert.Equal((ulong)lib.BaseAddress + overlays[i].Address, (ulong)steps[i].Address);
            Assert.Equal(overlays[i].Length, steps[i].Length);
        }
        using var checkedLoad = new LoaderContext().Load(Thrower);
        Assert.Contains(checkedLoad.MappingSteps, s => s.Kind == MappingStepKind.Overlay
            && s.Length > checkedLoad.Plan!.Overlays.First(o => o.Length > 0).Length);
    }

    [Fact]
    public void An_exception_thrown_inside_such_an_image_ends_the_process_and_is_caught_with_the_default()
    {
        var without = ChildProcess.Run("dotnet", typeof(UnwindTableOptionTests).Assembly.Location, Scenario, Thrower, "off");
        Assert.True(without.ExitCode != 0 && without.Stdout.Contains("loaded", StringComparison.Ordinal)
            && !without.Stdout.Contains("caught", StringComparison.Ordinal),
            $"exit {without.ExitCode}: {without.Stdout} {without.Stderr}");

        var with = ChildProcess.Run("dotnet", typeof(UnwindTableOptionTests).Assembly.Location, Scenario, Thrower, "on");
        Assert.True(with.ExitCode == 0 && with.Stdout.Contains("caught 9", StringComparison.Ordinal),
            $"exit {with.ExitCode}: {with.Stdout} {with.Stderr}");
    }

    /// <summary>The child: loads <paramref name="path"/> with the unwind tables registered or not, then throws and
    /// catches inside it.</summary>
    public static int Run(string path, bool register)
    {
        using var lib = new LoaderContext().Load(path, new LoadOptions { RegisterUnwindTables = register });
        Console.WriteLine("loaded");
        Console.Out.Flush();
        int caught = ((delegate* unmanaged<int, int, int>)lib.GetExport("thrower_catch_inside"))(4, 5);
        Console.WriteLine($"caught {caught}");
        return 0;
    }
}
