using Loader.Mapping;

namespace Loader;

/// <summary>How <see cref="ElfImage.Map(string, MapOptions?)"/> maps an image.</summary>
public sealed record MapOptions
{
    /// <summary>1 GiB: the default limit on an image's address span.</summary>
    public const long DefaultMaxImageSize = 1L << 30;

    /// <summary>The largest address span (lowest to highest PT_LOAD, page-rounded) the loader reserves. Default 1 GiB.</summary>
    public long MaxImageSize { get; init; } = DefaultMaxImageSize;

    /// <summary>
    /// Make PT_GNU_RELRO read-only at the end of mapping (default true). Set false when the image will be relocated
    /// first; call <see cref="ElfImage.ApplyRelro"/> afterwards.
    /// </summary>
    public bool ApplyRelro { get; init; } = true;

    /// <summary>The defaults.</summary>
    public static MapOptions Default { get; } = new();

    /// <summary>Test hook: called before every step is performed; an exception it throws fails the load there,
    /// so the roll-back can be tested. Null in normal use.</summary>
    internal Action<MappingStep>? BeforeStep { get; init; }
}
