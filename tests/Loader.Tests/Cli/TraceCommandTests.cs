namespace Loader.Tests.Cli;

/// <summary><c>loader trace</c>: the steps in order — reserve, trims, MAP_FIXED overlays inside the reservation at
/// base + pagedown(p_vaddr) from pagedown(p_offset), .bss, RELRO, and Dispose's munmap last.</summary>
[Collection("AddressSpace")]
public sealed class TraceCommandTests
{
    [Theory]
    [InlineData("basic.so")]
    [InlineData("maxpage_2m.so")]
    [InlineData("bigbss.so")]
    [InlineData("dirty_bss_tail.so")]
    [InlineData("norelro.so")]
    public void Json_steps_tell_the_story_in_order(string fixture)
    {
        string path = Fixtures.Path(fixture);
        var expected = MappingExpectations.FromReadelf(path);
        var result = CliHarness.Run("trace", path, "--json");

        CliHarness.AssertSuccess(result);
        var (bias, start, size, steps) = TraceJson.Parse(result.Stdout);
        Assert.Equal(Enumerable.Range(1, steps.Count), steps.Select(s => s.Index));

        // The reservation is the first step touching the image; Dispose's munmap of exactly it is the last.
        int reserve = steps.FindIndex(s => s.Kind == "Reserve");
        Assert.True(reserve >= 0);
        Assert.DoesNotContain(steps.Take(reserve), s => s.Kind is "Overlay" or "MapBss" or "Trim" or "ProtectRelro");
        Assert.Equal(("PROT_NONE", "MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE"), (steps[reserve].Protection, steps[reserve].Flags));
        var last = steps[^1];
        Assert.Equal(("Unmap", "munmap", start, size, true), (last.Kind, last.SystemCall, last.Address, last.Length, last.OnDispose));
        Assert.Equal(0UL, bias % expected.Alignment);

        // Trims (only when p_align exceeds the page) come right after the reservation and cut it down to the span.
        var trims = steps.Skip(reserve + 1).TakeWhile(s => s.Kind == "Trim").ToList();
        Assert.Equal(steps[reserve].Length, size + trims.Aggregate(0UL, (sum, t) => sum + t.Length));
        Assert.Equal(expected.Alignment > (ulong)Environment.SystemPageSize, trims.Count > 0);

        // Overlays: MAP_FIXED inside the reservation, at base + pagedown(p_vaddr), from pagedown(p_offset), in order
        // (the unwind table's PT_LOAD last when the first overlay reaches through it).
        var overlays = steps.Where(s => s.Kind == "Overlay").ToList();
        Assert.Equal(expected.InMappingOrder(overlays[0].Length).Select(o => (bias + o.Address, o.FileOffset)), overlays.Select(o => (o.Address, o.FileOffset!.Value)));
        foreach (var o in overlays)
        {
            Assert.Equal("MAP_PRIVATE|MAP_FIXED", o.Flags);
            Assert.True(o.Address >= start && o.Address + o.Length <= start + size);
            Assert.StartsWith("overlay ", o.Phase);
        }
        Assert.Contains(overlays, o => o.Phase == "overlay text");

        // .bss and RELRO follow the overlays they belong to; anonymous .bss pages where readelf implies them.
        var bss = steps.Where(s => s.Kind == "MapBss").Select(s => (s.Address - bias, s.Address + s.Length - bias)).ToList();
        Assert.Equal(expected.BssPages, bss);
        Assert.All(steps.Where(s => s.Kind == "MapBss"), s => Assert.Equal("MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS", s.Flags));
        int firstOverlay = steps.FindIndex(s => s.Kind == "Overlay");
        Assert.All(steps.Select((s, i) => (s, i)).Where(x => x.s.Kind is "MapBss" or "ZeroFill" or "ProtectRelro"), x => Assert.True(x.i > firstOverlay));
        var relro = steps.Where(s => s.Kind == "ProtectRelro").Select(s => (s.Address - bias, s.Address + s.Length - bias)).ToList();
        Assert.Equal(expected.Relro is { } r ? [r] : [], relro);
    }

    [Fact]
    public void Text_reads_like_the_loaders_story()
    {
        var result = CliHarness.Run("trace", Fixtures.Path("maxpage_2m.so"));

        CliHarness.AssertSuccess(result);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] story = ["reserve", "trim", "overlay read-only data", "overlay text", "overlay data", "zero tail", "protect RELRO", "unmap"];
        int at = 0;
        foreach (var phase in story)
        {
            int found = Array.FindIndex(lines, at, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^\s+\d+\s+{phase}\s"));
            Assert.True(found >= 0, $"no '{phase}' step after line {at}:\n{result.Stdout}");
            at = found;
        }
        Assert.Matches(@"mmap\(NULL, 0x[0-9a-f]+, PROT_NONE, MAP_PRIVATE\|MAP_ANONYMOUS\|MAP_NORESERVE, -1, 0x0\) = 0x[0-9a-f]+\s+reserve the image's span", result.Stdout);
        Assert.Matches(@"^\s+\d+\s+unmap\s+munmap\(0x[0-9a-f]+, 0x801000\) = 0", lines[^1]);
        Assert.Contains("Dispose():", lines[^2]);
    }

    [Fact]
    public void A_missing_file_exits_1_with_one_line()
    {
        var result = CliHarness.Run("trace", "/nonexistent/libnothing.so");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.StartsWith("loader: /nonexistent/libnothing.so", Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }
}
