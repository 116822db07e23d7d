using System.Text.RegularExpressions;
using Loader.Elf;
using Loader.Linking;
using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// Which form of libgcc's frame registration a load uses (<see cref="LibgccRegistry"/>): an array naming the table
/// when the process's libgcc_s keeps registered frames in lists (GCC 12 and before), the table itself otherwise. The
/// decision is checked against readelf's list of the version nodes of the libgcc_s glibc loaded, and the registration
/// against libgcc's own lookup, <c>_Unwind_Find_FDE</c>: it finds the image's FDEs while the library is loaded, inside
/// the image's <c>.eh_frame</c>, and none once it is unloaded.
/// </summary>
public sealed class FrameRegistrationFormTests
{
    private static string Thrower => Fixtures.Path("cxx/libcxx_thrower.so");

    [Theory]
    [InlineData(true, "GLIBC_2.0", "GCC_3.0", "GCC_4.8.0", "GCC_7.0.0", "GCC_12.0.0")]
    [InlineData(false, "GCC_3.0", "GCC_12.0.0", "GCC_13.0.0")]
    [InlineData(false, "GCC_3.0", "GCC_14.0.0")]
    [InlineData(false, "GLIBC_2.0")]
    [InlineData(false)]
    [InlineData(false, "GCC_3.0", "GCC_x.0")]
    [InlineData(false, "GCC_3.0", "GCC_+5.0")]
    public void Lists_are_assumed_only_for_a_libgcc_whose_newest_node_predates_GCC_13(bool expected, params string[] nodes) =>
        Assert.Equal(expected, LibgccRegistry.KeepsLists(nodes));

    [Fact]
    public void The_process_decision_follows_readelf_on_the_libgcc_s_glibc_loaded()
    {
        var libgcc = HostModules.Get("libgcc_s.so.1", out string? error);
        Assert.True(libgcc is not null, error);
        string path = libgcc.Path;
        var majors = Regex.Matches(Readelf.Output("-V", "-W", path), @"Name: GCC_(\d+)\.")
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.NotEmpty(majors);
        Assert.Equal(majors.Max() < LibgccRegistry.FirstBtreeMajor, LibgccRegistry.TakesArrays);
    }

    [Fact]
    public void Libgcc_finds_the_image_s_frames_in_its_eh_frame_while_loaded_and_none_after_the_unload()
    {
        nint pc;
        using (var lib = new LoaderContext().Load(Thrower))
        {
            Assert.Equal(UnwindTableState.Registered, lib.UnwindTable);
            nint ehFrame = Assert.NotNull(lib.LoadedModule.RegisteredEhFrame);
            var image = Assert.IsType<ElfImage>(lib.LoadedModule.Image);
            Assert.Equal(LibgccRegistry.TakesArrays, image.RegisteredThroughArray != 0);
            pc = lib.GetExport("thrower_catch_inside") + 1;
            nint fde = Libgcc.FindFde(pc);
            // The FDE lies in the registered table, which runs to the end of its PT_LOAD's pages at most.
            Assert.InRange(fde, ehFrame, lib.BaseAddress + (nint)image.Plan.Size);
        }
        Assert.Equal(0, Libgcc.FindFde(pc));
    }

    /// <summary>
    /// The form for a libgcc 13 or later, which the process's libgcc may not need, taken by hand: the mapper gives
    /// libgcc the table itself while its longer first overlay still maps the table's PT_LOAD, walks the table there,
    /// and makes that PT_LOAD's overlay last (as many overlays as PT_LOADs with file bytes); libgcc finds the FDE, and
    /// the image's dispose takes the table off.
    /// </summary>
    [Fact]
    public void The_table_itself_is_registered_by_the_mapper_when_asked_and_taken_off_at_dispose()
    {
        ulong value;
        using (var file = ElfFile.Open(Thrower))
            value = file.DynamicSymbols![file.FindDefinedSymbol("thrower_catch_inside")].Value;
        nint pc;
        using (var image = ElfImage.Map(Thrower, new MapOptions { RegisterUnwindTable = true }))
        {
            Assert.NotEqual(0, image.RegisteredEhFrame);
            Assert.Equal(0, image.RegisteredThroughArray);
            Assert.Equal(image.Plan.Overlays.Count(o => o.Length > 0), image.MappingSteps.Count(step => step.Kind == MappingStepKind.Overlay));
            pc = image.BaseAddress + (nint)value + 1;
            Assert.InRange(Libgcc.FindFde(pc), image.RegisteredEhFrame, image.BaseAddress + (nint)image.Plan.Size);
        }
        Assert.Equal(0, Libgcc.FindFde(pc));
    }
}
