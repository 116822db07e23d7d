namespace Loader.Mapping;

/// <summary>What a region of a mapped image holds.</summary>
public enum SegmentContent
{
    /// <summary>Code: a PT_LOAD with PF_X.</summary>
    Text,
    /// <summary>Read-only data (headers, symbol tables, .rodata): a PT_LOAD with PF_R only.</summary>
    ReadOnlyData,
    /// <summary>Writable data: a PT_LOAD with PF_W, outside PT_GNU_RELRO.</summary>
    Data,
    /// <summary>The part of a writable PT_LOAD covered by PT_GNU_RELRO: read-only once relocated.</summary>
    Relro,
    /// <summary>Anonymous zero pages for p_memsz beyond the last file page.</summary>
    Bss,
    /// <summary>Address range between PT_LOADs, left PROT_NONE inside the reservation.</summary>
    Gap,
}

/// <summary>What a region holds, in words.</summary>
public static class SegmentContentExtensions
{
    /// <summary><c>text</c>, <c>read-only data</c>, <c>data</c>, <c>relro</c>, <c>bss</c> or <c>gap</c>.</summary>
    public static string Describe(this SegmentContent content) => content switch
    {
        SegmentContent.Text => "text",
        SegmentContent.ReadOnlyData => "read-only data",
        SegmentContent.Data => "data",
        SegmentContent.Relro => "relro",
        SegmentContent.Bss => "bss",
        _ => "gap",
    };
}
