using Loader.Mapping;

namespace Loader.Tests.Mapping;

/// <summary>A failed load leaves /proc/self/maps and /proc/self/fd as they were: a failure is injected before each
/// step in turn, and real failures (missing file, refused file) are checked the same way.</summary>
[Collection("AddressSpace")]
public sealed class RollbackTests
{
    private sealed class InjectedFailure(MappingStep step) : Exception($"injected before: {step}");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string> { TestLibraries.Basic };
        var twoMiB = TestLibraries.LoadableFixtures.FirstOrDefault(p => p.EndsWith("/maxpage_2m.so", StringComparison.Ordinal));
        if (twoMiB is not null)
            data.Add(twoMiB); // with trims
        var bigBss = TestLibraries.LoadableFixtures.FirstOrDefault(p => p.EndsWith("/bigbss.so", StringComparison.Ordinal));
        if (bigBss is not null)
            data.Add(bigBss); // with an anonymous .bss mapping
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AFailureBeforeAnyStepRollsEverythingBack(string path)
    {
        int steps;
        using (var image = ElfImage.Map(path))
            steps = image.MappingSteps.Count;
        Assert.True(steps >= 4);

        for (int failAt = 0; failAt < steps; failAt++)
        {
            foreach (bool fromMemory in new[] { false, true })
            {
                var before = AddressSpaceSnapshot.Take();
                var touched = new List<(ulong, ulong)>();
                int calls = 0;
                string name = $"loader-rollback-{failAt}";
                var options = new MapOptions
                {
                    BeforeStep = step =>
                    {
                        if (step.Address != 0)
                            touched.Add(((ulong)step.Address, (ulong)step.Address + step.Length));
                        if (calls++ == failAt)
                            throw new InjectedFailure(step);
                    },
                };
                Assert.Throws<InjectedFailure>(() =>
                    fromMemory ? ElfImage.Map(File.ReadAllBytes(path), name, options) : ElfImage.Map(path, options));
                before.AssertNothingLeft(null, fromMemory ? $"/memfd:{name} (deleted)" : TestLibraries.RealPath(path), touched);
            }
        }
    }

    [Fact]
    public void ARefusedImageFromMemoryLeavesNoMemfd()
    {
        var before = AddressSpaceSnapshot.Take();
        byte[] bytes = File.ReadAllBytes(TestLibraries.Basic);
        // Make every PT_LOAD ask for W+X: the header pread passes, the file view is mapped, then the plan refuses.
        var file = Loader.Elf.ElfFile.Parse(bytes, "x");
        int phoff = (int)file.Header.ProgramHeaderOffset;
        for (int i = 0; i < file.ProgramHeaders.Count; i++)
            if (file.ProgramHeaders[i].Type == Loader.Elf.SegmentType.Load)
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(phoff + i * 56 + 4), 7);
        var ex = Assert.Throws<ElfFormatException>(() => ElfImage.Map(bytes, "loader-refused"));
        Assert.Contains("p_flags", ex.Field);
        before.AssertNothingLeft(null, "/memfd:loader-refused (deleted)", []);
    }

    [Fact]
    public void AMissingFileIsAnImageLoadExceptionWithErrno()
    {
        var ex = Assert.Throws<ImageLoadException>(() => ElfImage.Map("/nonexistent/libnothing.so"));
        Assert.Equal("open", ex.Call);
        Assert.Contains("ENOENT", ex.Message);
        Assert.Contains("/nonexistent/libnothing.so", ex.Message);
    }

    [Fact]
    public void ADirectoryIsRefused()
    {
        var before = AddressSpaceSnapshot.Take();
        var ex = Assert.Throws<ImageLoadException>(() => ElfImage.Map("/usr/lib"));
        Assert.Contains("not a regular file", ex.Message);
        before.AssertNothingLeft(null, "/usr/lib", []);
    }

    [Fact]
    public void ANonElfFileIsRefusedBeforeAnythingIsMapped()
    {
        string path = System.IO.Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "GROUP ( /lib/x86_64-linux-gnu/libc.so.6 )\n");
            var before = AddressSpaceSnapshot.Take();
            var ex = Assert.Throws<NotElfFileException>(() => ElfImage.Map(path));
            Assert.Equal(Loader.Elf.FileKind.LinkerScript, ex.Kind);
            before.AssertNothingLeft(null, TestLibraries.RealPath(path), []);
            Assert.Throws<ElfFormatException>(() => ElfImage.Map([], "empty"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A32BitObjectIsRefusedBeforeAnythingIsMapped()
    {
        string elf32 = Fixtures.Path("elf32_i386.so");
        var steps = new List<MappingStep>();
        var ex = Assert.Throws<UnsupportedElfException>(() => ElfImage.Map(elf32, new MapOptions { BeforeStep = steps.Add }));
        Assert.Equal("e_ident[EI_CLASS]", ex.Field);
        Assert.Empty(steps); // refused from the pread header: not even the file view was mapped
    }
}
