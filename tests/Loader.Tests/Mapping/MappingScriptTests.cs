using Loader.Mapping;

namespace Loader.Tests.Mapping;

/// <summary>
/// An image lists its mapping steps again from its plan when asked (<see cref="ElfImage.MappingSteps"/> through
/// <c>MappingScript</c>) instead of keeping the list the mapper made. The oracle here is the mapper itself: every step
/// it is about to make, as <see cref="MapOptions.BeforeStep"/> sees it, must come back in the list, in order and
/// equal in every field — for the system sample and every fixture (gaps, .bss tails on read-only pages, p_align above
/// the page, RELRO or none, the unwind table's longer first overlay). StraceTests compares the same list with the
/// kernel's view.
/// </summary>
[Collection("AddressSpace")]
public sealed class MappingScriptTests
{
    public static TheoryData<string> Libraries() => TestLibraries.All();

    [Theory]
    [MemberData(nameof(Libraries))]
    public void The_listed_steps_are_the_steps_the_mapper_made(string path)
    {
        var made = new List<MappingStep>();
        var image = ElfImage.Map(path, new MapOptions { BeforeStep = made.Add });
        IReadOnlyList<MappingStep> listed;
        try
        {
            listed = image.MappingSteps;
            // The reservation's step is seen before the kernel answers (address 0); the list has the kernel's address.
            Assert.Equal(MappingStepKind.Reserve, made[0].Kind);
            Assert.Equal((nint)0, made[0].Address);
            Assert.True(listed[0].Address != 0 && (ulong)listed[0].Address <= (ulong)image.ReservedRange.Start,
                $"the reservation is listed at 0x{listed[0].Address:x}, the image's range starts at 0x{image.ReservedRange.Start:x}");
            made[0] = made[0] with { Address = listed[0].Address };
            Assert.Equal(made, listed);
        }
        finally
        {
            image.Dispose();
        }
        var afterUnload = image.MappingSteps;
        Assert.Equal(listed, afterUnload.Take(listed.Count));
        var unmap = Assert.Single(afterUnload.Skip(listed.Count));
        Assert.Equal((MappingStepKind.Unmap, image.ReservedRange.Start, image.ReservedRange.Length), (unmap.Kind, unmap.Address, unmap.Length));
    }

    [Fact]
    public void A_deferred_RELRO_is_listed_where_it_was_made_among_the_steps_recorded_after_the_mapping()
    {
        string path = TestLibraries.Basic;
        var marker = new MappingStep(MappingStepKind.WriteRelro, 0, 1, MemoryProtection.None, MappingFlags.None, 0, "a step recorded after the mapping");

        using (var relroFirst = ElfImage.Map(path, new MapOptions { ApplyRelro = false }))
        {
            int mapped = relroFirst.MappingSteps.Count;
            relroFirst.ApplyRelro();
            relroFirst.Record(marker);
            Assert.Equal([MappingStepKind.ProtectRelro, MappingStepKind.WriteRelro], relroFirst.MappingSteps.Skip(mapped).Select(s => s.Kind));
        }
        using (var recordFirst = ElfImage.Map(path, new MapOptions { ApplyRelro = false }))
        {
            int mapped = recordFirst.MappingSteps.Count;
            recordFirst.Record(marker);
            recordFirst.ApplyRelro();
            Assert.Equal([MappingStepKind.WriteRelro, MappingStepKind.ProtectRelro], recordFirst.MappingSteps.Skip(mapped).Select(s => s.Kind));
            var relro = recordFirst.MappingSteps[^1];
            var planned = recordFirst.Plan.Relro!.Value;
            Assert.Equal(((nint)((ulong)recordFirst.BaseAddress + planned.Address), planned.Length), (relro.Address, relro.Length));
        }
    }
}
