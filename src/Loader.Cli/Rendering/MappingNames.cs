using Loader.Mapping;

namespace Loader.Cli.Rendering;

/// <summary>How the layout, trace and SVG name what the mapper made: region kinds, protections, flags, sizes.</summary>
internal static class MappingNames
{
    /// <summary>The short, stable name of a region kind, for JSON and SVG classes: text, rodata, data, relro, bss, gap.</summary>
    public static string Kind(SegmentContent content) => content switch
    {
        SegmentContent.Text => "text",
        SegmentContent.ReadOnlyData => "rodata",
        SegmentContent.Data => "data",
        SegmentContent.Relro => "relro",
        SegmentContent.Bss => "bss",
        _ => "gap",
    };

    /// <summary>What a region holds, in words.</summary>
    public static string Describe(SegmentContent content) => content.Describe();

    /// <summary>As C writes protections: <c>PROT_READ|PROT_EXEC</c>, or <c>PROT_NONE</c>.</summary>
    public static string Protection(MemoryProtection protection) => protection.ToCString();

    /// <summary>As C writes mmap flags: <c>MAP_PRIVATE|MAP_FIXED</c>.</summary>
    public static string Flags(MappingFlags flags) => flags.ToCString();

    /// <summary>A size for people: <c>4 KiB</c>, <c>2 MiB</c>, <c>1.5 MiB</c>, <c>40 B</c>.</summary>
    public static string Bytes(ulong size)
    {
        if (size < 1024)
            return $"{size} B";
        string[] units = ["KiB", "MiB", "GiB", "TiB"];
        double value = size;
        int unit = -1;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return value == Math.Floor(value) ? $"{value:0} {units[unit]}" : $"{value:0.#} {units[unit]}";
    }

    /// <summary><c>0x7f…000-0x7f…000</c>.</summary>
    public static string Range(ulong start, ulong end) => $"0x{start:x}-0x{end:x}";
}
