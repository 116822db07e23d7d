using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Sharing;

/// <summary>
/// <see cref="LoadOptions.ReservedRange"/>: the image goes at the start of the caller's PROT_NONE range, Loader reserves
/// nothing of its own, and the range goes back to the caller as PROT_NONE (never unmapped) at unload and after a
/// failure. The oracle is /proc/self/maps.
/// </summary>
[Collection("AddressSpace")]
public sealed unsafe class ReservedRangeTests
{
    private const ulong Generous = 16UL << 20;
    private static ulong Page => (ulong)Environment.SystemPageSize;

    [Fact]
    public void The_image_lands_at_the_start_of_the_callers_range_and_the_range_is_PROT_NONE_again_after_Dispose()
    {
        var range = AddressReservation.Reserve(Generous);
        try
        {
            var library = new LoaderContext().Load(Fixtures.Path("basic.so"), new LoadOptions { ReservedRange = range });
            Assert.Equal(range.Start, library.ReservedRange.Start);
            Assert.Equal(range.Start, library.BaseAddress);
            var add = (delegate* unmanaged<int, int, int>)library.GetExport("add");
            Assert.Equal(5, add(2, 3));

            var mapped = ProcMaps.Covering(ProcMaps.Read(), (ulong)range.Start, (ulong)range.Start + library.Size);
            Assert.Contains(mapped, m => m.Path.EndsWith("/basic.so", StringComparison.Ordinal) && m.Permissions == "r-xp");
            var steps = library.MappingSteps;
            Assert.Equal(MappingStepKind.UseReservation, steps[0].Kind);
            Assert.DoesNotContain(steps, s => s.Kind is MappingStepKind.Reserve or MappingStepKind.Trim);

            library.Dispose();
            AssertAllProtNone(range);
            var restore = library.MappingSteps[^1];
            Assert.Equal(MappingStepKind.RestoreReservation, restore.Kind);
            Assert.StartsWith($"mmap(0x{range.Start:x}, 0x{library.Size:x}, PROT_NONE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS|MAP_NORESERVE", restore.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(library.MappingSteps, s => s.Kind == MappingStepKind.Unmap);
        }
        finally
        {
            AddressReservation.Release(range);
        }
    }

    [Fact]
    public void A_range_too_small_is_refused_and_left_untouched()
    {
        var range = AddressReservation.Reserve(Page);
        try
        {
            var before = MapsOf(range);
            var ex = Assert.Throws<LoaderException>(() =>
                new LoaderContext().Load(Fixtures.Path("basic.so"), new LoadOptions { ReservedRange = range }));
            Assert.Contains("ReservedRange", ex.Message, StringComparison.Ordinal);
            Assert.Contains("holds 0x1000 bytes", ex.Message, StringComparison.Ordinal);
            Assert.Equal(before, MapsOf(range));
            AssertAllProtNone(range);
        }
        finally
        {
            AddressReservation.Release(range);
        }
    }

    [Fact]
    public void A_range_misaligned_for_p_align_is_refused()
    {
        // maxpage_2m.so has p_align 2 MiB: a range starting one page past a 2 MiB boundary cannot hold it.
        var outer = AddressReservation.Reserve(Generous, 2UL << 20);
        try
        {
            var range = new AddressRange((nint)((ulong)outer.Start + Page), outer.Length - Page);
            var ex = Assert.Throws<LoaderException>(() =>
                new LoaderContext().Load(Fixtures.Path("maxpage_2m.so"), new LoadOptions { ReservedRange = range }));
            Assert.Contains("p_align 0x200000", ex.Message, StringComparison.Ordinal);
            AssertAllProtNone(outer);
        }
        finally
        {
            AddressReservation.Release(outer);
        }
    }

    [Fact]
    public void A_range_nobody_mapped_is_refused()
    {
        var range = AddressReservation.Reserve(Generous);
        AddressReservation.Release(range); // now nothing lies there: MAP_FIXED into it would be the seed's bug
        var ex = Assert.Throws<LoaderException>(() =>
            new LoaderContext().Load(Fixtures.Path("basic.so"), new LoadOptions { ReservedRange = range }));
        Assert.Contains("is not all mapped", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_hint_that_cannot_hold_the_image_falls_back_to_a_normal_load()
    {
        var range = AddressReservation.Reserve(Page);
        try
        {
            using var library = new LoaderContext().Load(Fixtures.Path("basic.so"),
                new LoadOptions { ReservedRange = range, ReservedRangeIsHint = true });
            Assert.False(library.ReservedRange.Overlaps(range.Start, range.End));
            Assert.Equal(MappingStepKind.Reserve, library.MappingSteps[0].Kind);
            var add = (delegate* unmanaged<int, int, int>)library.GetExport("add");
            Assert.Equal(7, add(3, 4));
            AssertAllProtNone(range);
        }
        finally
        {
            AddressReservation.Release(range);
        }
    }

    [Fact]
    public void A_hint_that_fits_is_used()
    {
        var range = AddressReservation.Reserve(Generous);
        try
        {
            using (var library = new LoaderContext().Load(Fixtures.Path("basic.so"),
                new LoadOptions { ReservedRange = range, ReservedRangeIsHint = true }))
                Assert.Equal(range.Start, library.BaseAddress);
            AssertAllProtNone(range);
        }
        finally
        {
            AddressReservation.Release(range);
        }
    }

    [Fact]
    public void Only_the_root_goes_into_the_range_its_dependencies_load_elsewhere()
    {
        var range = AddressReservation.Reserve(Generous);
        try
        {
            using var library = new LoaderContext().Load(Fixtures.Path("chain/libchain_a.so"), new LoadOptions { ReservedRange = range });
            Assert.Equal(range.Start, library.BaseAddress);
            var dependencies = library.Dependencies.Where(d => d.Source == Loader.Linking.DependencySource.Loaded).ToList();
            Assert.NotEmpty(dependencies);
            foreach (var dependency in dependencies)
                Assert.False(range.Overlaps(dependency.Module.BaseAddress, dependency.Module.BaseAddress + 1),
                    $"{dependency.Module.Path} was loaded inside the caller's range");
        }
        finally
        {
            AddressReservation.Release(range);
        }
    }

    [Fact]
    public void A_failed_mapping_gives_the_range_back_as_PROT_NONE()
    {
        var range = AddressReservation.Reserve(Generous);
        try
        {
            int calls = 0;
            var options = new MapOptions
            {
                ReservedRange = range,
                BeforeStep = step =>
                {
                    if (++calls == 4)
                        throw new InvalidOperationException($"injected before {step}");
                },
            };
            Assert.Throws<InvalidOperationException>(() => ElfImage.Map(Fixtures.Path("basic.so"), options));
            Assert.True(calls >= 4, "the failure was injected after the first overlays");
            AssertAllProtNone(range);
        }
        finally
        {
            AddressReservation.Release(range);
        }
    }

    [Fact]
    public void A_failed_link_gives_the_range_back_as_PROT_NONE()
    {
        var range = AddressReservation.Reserve(Generous);
        string directory = Directory.CreateTempSubdirectory("loader-reserved-").FullName;
        try
        {
            // A copy of libchain_a.so whose $ORIGIN/lib holds nothing: mapped into the range, then refused while linking.
            string copy = Path.Combine(directory, "libchain_a.so");
            File.Copy(Fixtures.Path("chain/libchain_a.so"), copy);
            Assert.Throws<LibraryNotFoundException>(() =>
                new LoaderContext().Load(copy, new LoadOptions { ReservedRange = range, LdLibraryPath = "" }));
            AssertAllProtNone(range);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
            AddressReservation.Release(range);
        }
    }

    private static List<MapsEntry> MapsOf(AddressRange range) =>
        [.. ProcMaps.Read().Where(m => m.Overlaps((ulong)range.Start, (ulong)range.End))];

    /// <summary>The whole range is mapped, PROT_NONE, private and anonymous: the caller's reservation as it was.</summary>
    private static void AssertAllProtNone(AddressRange range)
    {
        foreach (var m in ProcMaps.Covering(ProcMaps.Read(), (ulong)range.Start, (ulong)range.End))
        {
            Assert.True(m.Permissions == "---p", $"{m} inside the caller's range {range} is not PROT_NONE");
            Assert.True(m.Inode == 0 && m.Path.Length == 0, $"{m} inside the caller's range {range} is not anonymous");
        }
    }
}
