namespace Loader;

/// <summary>How <see cref="ElfLibrary.Load(string, LoadOptions?)"/> loads a library.</summary>
public sealed record LoadOptions
{
    /// <summary>The largest address span the loader reserves for one image. Default 1 GiB.</summary>
    public long MaxImageSize { get; init; } = MapOptions.DefaultMaxImageSize;

    /// <summary>The defaults.</summary>
    public static LoadOptions Default { get; } = new();

    /// <summary>The mapping stage's options. RELRO is deferred: the load protects it after linking.</summary>
    internal MapOptions ToMapOptions() => new() { MaxImageSize = MaxImageSize, ApplyRelro = false };
}
