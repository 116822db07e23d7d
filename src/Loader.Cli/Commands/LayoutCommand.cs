using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Elf;
using Loader.Linking;
using Loader.Mapping;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader layout FILE [--json] [--svg OUT.svg]</c>: maps the file with <see cref="ElfImage.Map(string, MapOptions?)"/>
/// (nothing of the library runs), then shows the reservation and every region — absolute range, size, protection,
/// file offset, sections, where .bss begins, the gaps, RELRO — each beside what /proc/self/maps says about it, read
/// while the image is still mapped.
/// </summary>
internal static class LayoutCommand
{
    public static Command Create()
    {
        var file = CommonOptions.Path("The shared object to map (x86_64 ELF64, ET_DYN).");
        var json = CommonOptions.Json();
        var svg = new Option<string?>("--svg")
        {
            Description = "Also draw the address space to scale (gaps compressed) as an SVG picture in this file; '-' writes the SVG alone to stdout.",
            HelpName = "OUT.svg",
        };
        var command = CommonOptions.NewCommand("layout",
            "Map a shared object (without running any of it) and show where each region landed, next to the kernel's /proc/self/maps line for it.",
            "loader layout /usr/lib/x86_64-linux-gnu/libz.so.1 --svg libz.svg" + Environment.NewLine +
            "Example: loader layout /usr/lib/x86_64-linux-gnu/libz.so.1 --svg - > libz.svg");
        var writeRelro = new Option<bool>("--write-relro")
        {
            Description = "Write RELRO to a sealed memfd and map it back shared (LoadOptions.WriteRelro, as `loader share` does) and mark the shared pages.",
        };
        command.Add(file);
        command.Add(json);
        command.Add(svg);
        command.Add(writeRelro);
        command.Validators.Add(result =>
        {
            if (result.GetValue(svg) == StdoutPath && result.GetValue(json))
                result.AddError("--svg - and --json cannot be used together: both write to stdout");
        });
        command.SetAction(parseResult => Run(
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error,
            parseResult.GetRequiredValue(file), parseResult.GetValue(json), parseResult.GetValue(svg), parseResult.GetValue(writeRelro)));
        return command;
    }

    /// <summary>The <c>--svg</c> value that means stdout, as for most Unix tools.</summary>
    public const string StdoutPath = "-";

    public static int Run(TextWriter stdout, TextWriter stderr, string path, bool json, string? svgPath, bool writeRelro = false)
    {
        LayoutReport report;
        try
        {
            using var relroFile = writeRelro ? RelroFile.CreateMemfd("loader-layout-relro") : null;
            using var image = ElfImage.Map(path, new MapOptions { WriteRelro = relroFile });
            // Read the kernel's view while the image is mapped: after Dispose it would show nothing of ours.
            report = Build(image, KernelMaps.Read());
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex))
        {
            return ElfFileRunner.Fail(stderr, path, ex);
        }

        if (svgPath == StdoutPath)
        {
            // The picture alone, so `--svg - > out.svg` or a pipe into a viewer gets a well-formed file.
            stdout.Write(System.Text.Encoding.UTF8.GetString(LayoutSvg.Render(report)));
            return ExitCodes.Success;
        }
        if (svgPath is not null)
        {
            try
            {
                LayoutSvg.WriteFile(svgPath, report);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"loader: {svgPath}: cannot write the SVG: {ex.Message}");
                return ExitCodes.BadFile;
            }
        }
        if (json)
            CliJsonContext.Write(stdout, report, CliJsonContext.Default.LayoutReport);
        else
            LayoutText.Write(stdout, report, svgPath);
        return ExitCodes.Success;
    }

    /// <summary>The layout of a mapped image, each region matched with the /proc/self/maps lines covering it.</summary>
    internal static LayoutReport Build(ElfImage image, IReadOnlyList<KernelMapping> maps)
    {
        ulong bias = (ulong)image.BaseAddress;
        var plan = image.Plan;
        var bss = plan.Bss.Select(b => new BssInfo(b.ProgramHeaderIndex, bias + b.Start, bias + b.End,
            b.ZeroFillLength, b.AnonymousLength > 0 ? bias + b.AnonymousAddress : null, b.AnonymousLength)).ToList();
        RelroInfo? relro = plan.Relro is { } r
            ? new RelroInfo(r.ProgramHeaderIndex, r.SegmentProgramHeaderIndex, bias + r.Address, bias + r.Address + r.Length,
                bias + r.VirtualAddress, bias + r.VirtualAddress + r.MemorySize, image.IsRelroApplied,
                image.RelroSharing?.PagesShared ?? 0, image.RelroSharing is { PagesShared: > 0 } ? SharedFileName(maps, image.RelroSharing) : null)
            : null;

        var regions = new List<LayoutRegion>(image.Segments.Count);
        foreach (var segment in image.Segments)
        {
            ulong start = (ulong)segment.Start, end = (ulong)segment.End;
            var kernel = KernelMaps.Overlapping(maps, start, end);
            string? disagreement = Disagreement(segment, kernel, image.File.Inode, image.RelroSharing);
            ulong? bssStart = segment.Content == SegmentContent.Bss ? null
                : bss.FirstOrDefault(b => b.LoadIndex == segment.ProgramHeaderIndex && b.Start >= start && b.Start < end)?.Start;
            string? between = segment.Content != SegmentContent.Gap ? null
                : plan.Gaps.FirstOrDefault(g => g.Address == segment.VirtualAddress) is { } gap
                    ? $"PT_LOAD[{gap.AfterProgramHeaderIndex}] and PT_LOAD[{gap.BeforeProgramHeaderIndex}]" : null;
            regions.Add(new LayoutRegion(regions.Count, MappingNames.Kind(segment.Content), MappingNames.Describe(segment.Content),
                start, end, segment.Size, segment.VirtualAddress, segment.Protection.ToMapsString(), segment.FileOffset,
                segment.FileSize, segment.MemorySize, segment.ProgramHeaderIndex, [.. segment.Sections], bssStart, between,
                kernel, disagreement is null, disagreement));
        }

        return new LayoutReport(image.Path, image.SoName, bias, (ulong)image.ReservedRange.Start, (ulong)image.ReservedRange.End,
            image.Size, plan.Alignment, plan.PageSize, relro, bss, regions, regions.All(x => x.KernelAgrees),
            HostLibraryPolicy.Default.IsHostLibrary(image.Path) || (image.SoName is { Length: > 0 } name && HostLibraryPolicy.Default.IsHostLibrary(name)),
            HostCopyOf(image),
            TlsSegment.Find(image.ProgramHeaders) is { } tls
                ? new LayoutTls(bias + tls.VirtualAddress, bias + tls.VirtualAddress + tls.FileSize, tls.MemorySize, tls.Alignment)
                : null);
    }

    /// <summary>
    /// The base of the process's own copy when the file is a host library the process has (by device and inode, or by
    /// DT_SONAME): <c>ElfLibrary.Load</c> and the other commands take that copy, so layout says its own mapping is a
    /// separate one, made only to be shown. Null otherwise: nothing is loaded to find out.
    /// </summary>
    private static ulong? HostCopyOf(ElfImage image) =>
        HostLibraryPolicy.Default.FindLoadedCopy(image.File.Device, image.File.Inode, image.SoName) is { } host ? (ulong)host.Base : null;

    /// <summary>What /proc/self/maps names the file the shared RELRO pages come from (<c>/memfd:… (deleted)</c>).</summary>
    private static string SharedFileName(IReadOnlyList<KernelMapping> maps, RelroSharingReport sharing)
    {
        var first = sharing.SharedRanges[0];
        return KernelMaps.Overlapping(maps, (ulong)first.Start, (ulong)first.End).FirstOrDefault()?.Path is { Length: > 0 } path ? path : "the RELRO file";
    }

    /// <summary>Why the kernel's lines for a region differ from what the loader meant, or null when they agree: they
    /// cover it without holes, with its protection, privately, from our file at the right offset (or anonymous).</summary>
    private static string? Disagreement(ImageSegment segment, List<KernelMapping> kernel, ulong inode, RelroSharingReport? sharing)
    {
        ulong start = (ulong)segment.Start, end = (ulong)segment.End, at = start;
        string expected = segment.Protection.ToMapsString();
        foreach (var k in kernel)
        {
            if (k.Start > at)
                return $"nothing mapped at 0x{at:x}";
            at = Math.Max(at, k.End);
            if (k.Protection != expected)
                return $"kernel protection {k.Protection}, expected {expected}";
            if (sharing is not null && sharing.IsShared((nint)Math.Max(k.Start, start)))
            {
                // A shared RELRO page: the RELRO file's, MAP_SHARED, not the library's.
                if (!k.Permissions.EndsWith('s'))
                    return $"kernel mapping is {k.Permissions} at 0x{Math.Max(k.Start, start):x}, expected shared RELRO (MAP_SHARED)";
                continue;
            }
            if (!k.Permissions.EndsWith('p'))
                return $"kernel mapping is {k.Permissions}, expected a private mapping";
            ulong from = Math.Max(k.Start, start);
            if (segment.FileOffset is { } offset)
            {
                if (k.Inode != inode)
                    return $"kernel maps inode {k.Inode}, not the file's inode {inode}";
                if (k.OffsetAt(from) != offset + (from - start))
                    return $"kernel file offset 0x{k.OffsetAt(from):x} at 0x{from:x}, expected 0x{offset + (from - start):x}";
            }
            else if (k.Inode != 0)
            {
                return $"kernel maps inode {k.Inode} ({k.Path}), expected anonymous memory";
            }
        }
        return at >= end ? null : $"/proc/self/maps shows nothing at 0x{at:x}";
    }
}

/// <summary>What <c>loader layout</c> prints: the reservation, RELRO, the .bss ranges, and every region in address order.
/// Addresses are absolute (the load bias added).</summary>
internal sealed record LayoutReport(
    string File,
    string? SoName,
    ulong BaseAddress,
    ulong ReservedStart,
    ulong ReservedEnd,
    ulong ReservedSize,
    ulong Alignment,
    ulong PageSize,
    RelroInfo? Relro,
    List<BssInfo> Bss,
    List<LayoutRegion> Regions,
    bool KernelAgrees,
    bool HostLibrary = false,
    ulong? HostCopyBase = null,
    LayoutTls? Tls = null);

/// <summary>The PT_TLS template inside the image: the initialization image (<see cref="ImageStart"/>-<see cref="ImageEnd"/>,
/// <c>.tdata</c>, absolute) and the size and alignment of the block every thread gets (<c>.tdata</c> then <c>.tbss</c>).</summary>
internal sealed record LayoutTls(ulong ImageStart, ulong ImageEnd, ulong BlockSize, ulong Alignment);

/// <summary>PT_GNU_RELRO: <see cref="Start"/>-<see cref="End"/> are the whole pages made read-only (both ends rounded
/// down, as glibc does); <see cref="SegmentStart"/>-<see cref="SegmentEnd"/> the exact p_vaddr range;
/// <see cref="SharedPages"/> of them are mapped MAP_SHARED from <see cref="SharedFrom"/> (shared RELRO, <c>--write-relro</c>).</summary>
internal sealed record RelroInfo(int ProgramHeaderIndex, int LoadIndex, ulong Start, ulong End, ulong SegmentStart, ulong SegmentEnd, bool Applied,
    int SharedPages = 0, string? SharedFrom = null);

/// <summary>One PT_LOAD's .bss: <see cref="Start"/> (p_vaddr + p_filesz) to <see cref="End"/> (p_vaddr + p_memsz);
/// <see cref="ZeroFilled"/> bytes zeroed on the last file page, then anonymous zero pages (none when null).</summary>
internal sealed record BssInfo(int LoadIndex, ulong Start, ulong End, ulong ZeroFilled, ulong? AnonymousStart, ulong AnonymousSize);

/// <summary>One region of the image and the /proc/self/maps lines covering it.</summary>
/// <param name="Kind">text, rodata, data, relro, bss or gap.</param>
/// <param name="Protection">What the loader asked for, as /proc/self/maps spells it: <c>r-x</c>.</param>
/// <param name="BssStart">Where .bss begins inside this region (the rest of the page is zeroed), or null.</param>
/// <param name="Between">For a gap: the two PT_LOADs around it.</param>
/// <param name="Kernel">The /proc/self/maps lines sharing a byte with the region (usually one).</param>
/// <param name="KernelAgrees">The kernel shows the region's protection and file offset (or anonymous memory).</param>
/// <param name="Disagreement">Why not, when it does not.</param>
internal sealed record LayoutRegion(
    int Index,
    string Kind,
    string Description,
    ulong Start,
    ulong End,
    ulong Size,
    ulong VirtualAddress,
    string Protection,
    ulong? FileOffset,
    ulong FileSize,
    ulong MemorySize,
    int? LoadIndex,
    List<string> Sections,
    ulong? BssStart,
    string? Between,
    List<KernelMapping> Kernel,
    bool KernelAgrees,
    string? Disagreement);
