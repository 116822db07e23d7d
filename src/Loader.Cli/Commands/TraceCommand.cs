using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Mapping;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader trace FILE [--json]</c>: maps the file, prints every mmap, mprotect and munmap the mapper made, in
/// order, as strace would show the call, with what it was for — then disposes the image and prints the final munmap.
/// Read top to bottom it is the loader's story: read the headers, reserve, trim, overlay text and data, zero the
/// .bss tail, map the .bss, protect RELRO, unmap.
/// </summary>
internal static class TraceCommand
{
    public static Command Create() => CommonOptions.FileCommand("trace",
        "Map a shared object (without running any of it), unmap it, and print every mmap/mprotect/munmap made, in order, with why.",
        "loader trace /usr/lib/x86_64-linux-gnu/libz.so.1",
        CommonOptions.Path("The shared object to map (x86_64 ELF64, ET_DYN)."), Run);

    public static int Run(TextWriter stdout, TextWriter stderr, string path, bool json)
    {
        ElfImage image;
        try
        {
            image = ElfImage.Map(path);
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex))
        {
            return ElfFileRunner.Fail(stderr, path, ex);
        }

        TraceReport report;
        using (image)
        {
            var mapped = Build(image, image.MappingSteps, 0);
            if (!json)
            {
                // Print the story so far while the image is mapped, then unload and print the unmap.
                TraceText.WriteHeader(stdout, mapped);
                var widths = TraceText.Widths(mapped.Steps);
                TraceText.WriteSteps(stdout, mapped.Steps, widths);
                stdout.WriteLine($"{new string(' ', 2)}-- mapped at 0x{mapped.BaseAddress:x}; nothing of it ran. Dispose():");
                stdout.Flush();
                image.Dispose();
                var after = Build(image, image.MappingSteps.Skip(mapped.Steps.Count).ToList(), mapped.Steps.Count);
                TraceText.WriteSteps(stdout, after.Steps, widths);
                return ExitCodes.Success;
            }
            image.Dispose();
            report = Build(image, image.MappingSteps, 0);
        }
        CliJsonContext.Write(stdout, report, CliJsonContext.Default.TraceReport);
        return ExitCodes.Success;
    }

    /// <summary>The steps (from <paramref name="firstIndex"/> on) as the trace shows them.</summary>
    internal static TraceReport Build(ElfImage image, IReadOnlyList<MappingStep> steps, int firstIndex)
    {
        ulong bias = (ulong)image.BaseAddress;
        var rows = new List<TraceStep>(steps.Count);
        foreach (var step in steps)
        {
            string? call = step.SystemCall;
            ulong? returned = call == "mmap" ? (ulong)step.Address : call is null ? null : 0;
            rows.Add(new TraceStep(firstIndex + rows.Count + 1, Phase(image, step), step.Kind.ToString(), call, Call(step),
                returned, (ulong)step.Address, step.Length, MappingNames.Protection(step.Protection), MappingNames.Flags(step.Flags),
                step.FileOffset, step.Reason, step.Kind == MappingStepKind.Unmap && image.IsDisposed));
        }
        return new TraceReport(image.Path, image.SoName, bias, (ulong)image.ReservedRange.Start, image.Size, image.Plan.Alignment, rows);
    }

    /// <summary>The step's place in the story, in a word or two.</summary>
    private static string Phase(ElfImage image, MappingStep step) => step.Kind switch
    {
        MappingStepKind.Reserve => "reserve",
        MappingStepKind.Trim => "trim",
        MappingStepKind.Overlay => "overlay " + MappingNames.Describe(OverlayContent(image, step)),
        MappingStepKind.UnprotectForZeroing => "unprotect tail",
        MappingStepKind.ZeroFill => "zero tail",
        MappingStepKind.RestoreProtection => "reprotect tail",
        MappingStepKind.MapBss => "map bss",
        MappingStepKind.ProtectRelro => "protect RELRO",
        MappingStepKind.Unmap => "unmap",
        _ => step.Kind.ToString(),
    };

    private static SegmentContent OverlayContent(ElfImage image, MappingStep step)
    {
        ulong at = (ulong)step.Address - (ulong)image.BaseAddress;
        foreach (var overlay in image.Plan.Overlays)
            if (overlay.Address == at)
                return overlay.Content;
        return SegmentContent.Data;
    }

    /// <summary>The call as strace prints it (lengths in hex, <c>fd</c> for the file), with its result.</summary>
    private static string Call(MappingStep step) => step.SystemCall switch
    {
        "mmap" => $"mmap({(step.Kind is MappingStepKind.Reserve ? "NULL" : $"0x{step.Address:x}")}, " +
                  $"0x{step.Length:x}, {MappingNames.Protection(step.Protection)}, {MappingNames.Flags(step.Flags)}, " +
                  $"{(step.FileOffset is null ? "-1" : "fd")}, 0x{step.FileOffset ?? 0:x}) = 0x{step.Address:x}",
        "mprotect" => $"mprotect(0x{step.Address:x}, 0x{step.Length:x}, {MappingNames.Protection(step.Protection)}) = 0",
        "munmap" => $"munmap(0x{step.Address:x}, 0x{step.Length:x}) = 0",
        null => $"memset(0x{step.Address:x}, 0, 0x{step.Length:x})",
        _ => step.ToString().Split("  # ")[0], // mincore, pwrite, fcntl: the library spells them
    };
}

/// <summary>What <c>loader trace</c> prints: every step, in order, the last one Dispose's munmap.</summary>
internal sealed record TraceReport(string File, string? SoName, ulong BaseAddress, ulong ReservedStart, ulong ReservedSize, ulong Alignment, List<TraceStep> Steps);

/// <summary>One mmap, mprotect, munmap (or the memset zeroing a .bss tail).</summary>
/// <param name="Phase">Its place in the story: reserve, trim, overlay text, zero tail, map bss, protect RELRO, unmap.</param>
/// <param name="Kind">The library's <see cref="MappingStepKind"/>.</param>
/// <param name="SystemCall">mmap, mprotect, munmap, or null for the memset.</param>
/// <param name="Call">The call as strace would print it, lengths in hex.</param>
/// <param name="Result">What the call returned: the address for an mmap, 0 for mprotect and munmap.</param>
/// <param name="Address">The address acted on (for a reservation, the one the kernel chose).</param>
/// <param name="FileOffset">The file offset of a file-backed mmap.</param>
/// <param name="OnDispose">True for the munmap made by Dispose.</param>
internal sealed record TraceStep(
    int Index,
    string Phase,
    string Kind,
    string? SystemCall,
    string Call,
    ulong? Result,
    ulong Address,
    ulong Length,
    string Protection,
    string Flags,
    ulong? FileOffset,
    string Reason,
    bool OnDispose);
