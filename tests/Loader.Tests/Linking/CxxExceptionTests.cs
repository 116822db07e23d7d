namespace Loader.Tests.Linking;

/// <summary>
/// C++ exceptions, RTTI and backtraces through code Loader mapped (tests/fixtures/cxx/): libgcc's unwinder finds
/// the images' frames only because <c>UnwindRegistry</c> registered their <c>.eh_frame</c>; without it the first
/// throw would end the test process in <c>std::terminate</c>. Every exception is caught before it reaches managed
/// frames.
/// </summary>
public sealed unsafe class CxxExceptionTests
{
    private static string Thrower => Fixtures.Path("cxx/libcxx_thrower.so");
    private static string Catcher => Fixtures.Path("cxx/libcxx_catcher.so");

    [Fact]
    public void An_exception_thrown_and_caught_inside_one_library_reaches_its_handler()
    {
        var context = new LoaderContext();
        using var lib = context.Load(Thrower);

        Assert.Equal(5 + 4, ((delegate* unmanaged<int, int, int>)lib.GetExport("thrower_catch_inside"))(5, 4));
        // Thrown by the host's libstdc++ (std::string::at) through the image's frames, caught by its base class.
        Assert.Equal(1, ((delegate* unmanaged<int>)lib.GetExport("thrower_catch_std"))());
        // Every destructor on the way ran: the cleanup landing pads of 6 frames.
        Assert.Equal(6, ((delegate* unmanaged<int, int>)lib.GetExport("thrower_cleanups"))(6));

        var module = lib.LoadedModule;
        nint ehFrame = Assert.NotNull(module.RegisteredEhFrame);
        var range = module.Range;
        Assert.InRange((ulong)ehFrame, (ulong)range.Start, (ulong)range.Start + range.Length - 1);
    }

    [Fact]
    public void An_exception_thrown_in_one_library_is_caught_in_another_by_the_first_ones_types()
    {
        var context = new LoaderContext();
        using var catcher = context.Load(Catcher);

        // DeepError thrown 3 frames down in the thrower, caught in the catcher as ThrowerError, then dynamic_cast back.
        Assert.Equal(7 * 100 + 3, ((delegate* unmanaged<int, int, int>)catcher.GetExport("catcher_catch_from_thrower"))(7, 3));
        Assert.Equal(42, ((delegate* unmanaged<int, int>)catcher.GetExport("catcher_catch_int"))(41));

        var thrower = catcher.LoadedModule.Needed.Single(m => m.SoName == "libcxx_thrower.so");
        Assert.False(thrower.IsHost);
        Assert.NotNull(thrower.RegisteredEhFrame);
        Assert.NotNull(catcher.LoadedModule.RegisteredEhFrame);
        Assert.NotEqual(thrower.RegisteredEhFrame, catcher.LoadedModule.RegisteredEhFrame);
    }

    [Fact]
    public void Dynamic_cast_and_typeid_work_across_two_loaded_libraries()
    {
        var context = new LoaderContext();
        using var catcher = context.Load(Catcher);
        var cast = (delegate* unmanaged<int, int>)catcher.GetExport("catcher_cast");
        var isSquare = (delegate* unmanaged<int, int>)catcher.GetExport("catcher_typeid_is_square");

        Assert.Equal(44, cast(4));
        Assert.Equal(33, cast(3));
        Assert.Equal(1, isSquare(4));
        Assert.Equal(0, isSquare(3));
    }

    [Fact]
    public void A_backtrace_taken_inside_loaded_code_walks_out_through_its_frames()
    {
        var context = new LoaderContext();
        using var lib = context.Load(Thrower);
        var (count, inImage) = BacktraceFrom(lib, depth: 5);

        // 5 trace() frames and thrower_backtrace itself are in the image; without registered frames libgcc stops at
        // the first of them.
        Assert.True(count >= 6, $"backtrace found {count} frames");
        Assert.True(inImage >= 6, $"{inImage} of {count} frames lie in {lib.Path} at 0x{lib.LoadedModule.Range.Start:x}");
    }

    /// <summary>glibc's <c>backtrace</c> taken <paramref name="depth"/> frames down in libcxx_thrower (loaded as
    /// <paramref name="lib"/>): the frames it found, and how many of them lie in the image.</summary>
    internal static (int Count, int InImage) BacktraceFrom(ElfLibrary lib, int depth)
    {
        var take = (delegate* unmanaged<nint*, int, int, int>)lib.GetExport("thrower_backtrace");
        var frames = new nint[64];
        int count;
        fixed (nint* p = frames)
            count = take(p, frames.Length, depth);
        var range = lib.LoadedModule.Range;
        return (count, frames.Take(count).Count(a => (ulong)a >= (ulong)range.Start && (ulong)a < (ulong)range.Start + range.Length));
    }

    [Fact]
    public void Unloading_deregisters_so_a_hundred_load_throw_unload_cycles_keep_working()
    {
        var context = new LoaderContext();
        for (int i = 0; i < 100; i++)
        {
            var lib = context.Load(Catcher);
            var thrower = lib.LoadedModule.Needed.Single(m => m.SoName == "libcxx_thrower.so");
            Assert.Equal(i * 100 + 2, ((delegate* unmanaged<int, int, int>)lib.GetExport("catcher_catch_from_thrower"))(i, 2));
            Assert.NotNull(thrower.RegisteredEhFrame);
            var root = lib.LoadedModule;
            lib.Dispose();
            // Both came off libgcc's list before their images were unmapped; the next throw would otherwise make
            // libgcc read the unmapped tables.
            Assert.Null(root.RegisteredEhFrame);
            Assert.Null(thrower.RegisteredEhFrame);
            Assert.Empty(context.LoadedLibraries);
        }

        using var again = context.Load(Thrower);
        Assert.Equal(3 + 8, ((delegate* unmanaged<int, int, int>)again.GetExport("thrower_catch_inside"))(3, 8));
    }

    [Fact]
    public void Two_contexts_register_the_same_library_twice_independently()
    {
        var first = new LoaderContext();
        var second = new LoaderContext();
        using var a = first.Load(Thrower);
        using (var b = second.Load(Thrower))
        {
            Assert.NotEqual(a.LoadedModule.RegisteredEhFrame, b.LoadedModule.RegisteredEhFrame);
            Assert.Equal(1 + 2, ((delegate* unmanaged<int, int, int>)b.GetExport("thrower_catch_inside"))(1, 2));
        }
        // The second copy is gone and deregistered; the first still unwinds.
        Assert.Equal(2 + 2, ((delegate* unmanaged<int, int, int>)a.GetExport("thrower_catch_inside"))(2, 2));
    }

    [Fact]
    public void A_library_without_PT_GNU_EH_FRAME_registers_nothing()
    {
        var context = new LoaderContext();
        using var lib = context.Load(Fixtures.Path("cxx/libno_eh_frame_hdr.so"));

        Assert.DoesNotContain(lib.LoadedModule.ProgramHeaders, ph => ph.Type == Loader.Elf.SegmentType.GnuEhFrame);
        Assert.Null(lib.LoadedModule.RegisteredEhFrame);
        Assert.Equal(5, ((delegate* unmanaged<int, int, int>)lib.GetExport("add"))(2, 3));
    }
}
