using Loader.Cli.Rendering;
using Loader.Elf;
using Loader.Mapping;

namespace Loader.Cli.Commands;

/// <summary>
/// What <c>loader demo --json</c> writes: the sample's <c>info</c>, its <c>layout</c> (read while it is mapped) and
/// its <c>trace</c> (after the same image is unmapped), each as its command's <c>--json</c> has it, then the sample
/// loaded for real and two exports called.
/// </summary>
internal static class DemoJson
{
    /// <summary>The two calls the demo makes, as <c>loader call</c> makes them: <c>demo_add(2, 3)</c> and its result.</summary>
    public static IEnumerable<(string Call, string Result)> Calls(ElfLibrary library)
    {
        yield return CallCommand.Describe(library, "int demo_add(int, int)", "2", "3");
        yield return CallCommand.Describe(library, "const char *demo_greeting(void)");
    }

    public static DemoReport Build(string sample)
    {
        InfoReport info;
        using (var elf = ElfFile.Open(sample))
            info = InfoCommand.Build(elf);

        LayoutReport layout;
        TraceReport trace;
        using (var image = ElfImage.Map(sample))
        {
            layout = LayoutCommand.Build(image, KernelMaps.Read());
            image.Dispose();
            trace = TraceCommand.Build(image, image.MappingSteps, 0);
        }

        using var library = ElfLibrary.Load(sample);
        var segments = library.Segments.Select(s => new DemoSegment((ulong)s.Start, (ulong)s.End, s.Protection.ToMapsString(),
            MappingNames.Kind(s.Content), [.. s.Sections])).ToList();
        var calls = Calls(library).Select(c => new DemoCall(c.Call, c.Result)).ToList();
        var load = new DemoLoad((ulong)library.BaseAddress, library.Relocations.Count, library.Relocations.Count(r => r.Symbol is null),
            segments, calls);
        return new DemoReport(sample, info, layout, trace, load);
    }
}

/// <summary><c>loader demo --json</c>.</summary>
/// <param name="Sample">The sample library's path.</param>
/// <param name="Info">As <c>loader info --json</c> writes it.</param>
/// <param name="Layout">As <c>loader layout --json</c> writes it.</param>
/// <param name="Trace">As <c>loader trace --json</c> writes it, the final munmap included.</param>
/// <param name="Load">The sample loaded with <c>ElfLibrary.Load</c>, and the calls made.</param>
internal sealed record DemoReport(string Sample, InfoReport Info, LayoutReport Layout, TraceReport Trace, DemoLoad Load);

/// <summary>The loaded sample: its base, how many relocations were applied (and how many were relative), its regions, the calls.</summary>
internal sealed record DemoLoad(ulong BaseAddress, int Relocations, int RelativeRelocations, List<DemoSegment> Segments, List<DemoCall> Calls);

/// <summary>One region of the loaded sample: after relocation, RELRO is read-only.</summary>
internal sealed record DemoSegment(ulong Start, ulong End, string Protection, string Kind, List<string> Sections);

/// <summary>One call: <c>demo_add(2, 3)</c> and what it returned, as <c>loader call</c> prints it.</summary>
internal sealed record DemoCall(string Call, string Result);
