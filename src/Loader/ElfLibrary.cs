using Loader.Mapping;

namespace Loader;

/// <summary>
/// A shared object loaded by this loader: the handle users hold, modeled on
/// <see cref="System.Runtime.InteropServices.NativeLibrary"/>. For now a load maps the image and protects RELRO;
/// linking (relocation, initializers) comes in a later stage. <see cref="Dispose"/> unloads it.
/// </summary>
public sealed class ElfLibrary : IDisposable
{
    private readonly ElfImage _image;

    private ElfLibrary(ElfImage image) => _image = image;

    /// <summary>Loads the shared object at <paramref name="path"/>.</summary>
    /// <exception cref="LoaderException">The file cannot be loaded; the message says which file, field or call, and why.</exception>
    public static ElfLibrary Load(string path, LoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Complete(ElfImage.Map(path, (options ?? LoadOptions.Default).ToMapOptions()));
    }

    /// <summary>Loads a shared object held in memory, through a memfd named <paramref name="name"/>.</summary>
    /// <exception cref="LoaderException">The image cannot be loaded.</exception>
    public static ElfLibrary Load(ReadOnlySpan<byte> image, string name, LoadOptions? options = null) =>
        Complete(ElfImage.Map(image, name, (options ?? LoadOptions.Default).ToMapOptions()));

    /// <summary>Loads the shared object at <paramref name="path"/>; false (and nothing left mapped or open) when it
    /// cannot be loaded.</summary>
    public static bool TryLoad(string path, out ElfLibrary? library, LoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            library = Load(path, options);
            return true;
        }
        catch (LoaderException)
        {
            library = null;
            return false;
        }
    }

    /// <summary>The load bias: PT_LOAD i starts at BaseAddress + p_vaddr.</summary>
    public nint BaseAddress => _image.BaseAddress;

    /// <summary>The size of the image's reservation in bytes.</summary>
    public ulong Size => _image.Size;

    /// <summary>The path loaded, or the name of an image loaded from memory.</summary>
    public string Path => _image.Path;

    /// <summary>DT_SONAME, or null.</summary>
    public string? SoName => _image.SoName;

    /// <summary>The mapping plan that was executed.</summary>
    public LoadPlan Plan => _image.Plan;

    /// <summary>The address range the library owns.</summary>
    public AddressRange ReservedRange => _image.ReservedRange;

    /// <summary>The regions in address order, with their absolute addresses and current protection.</summary>
    public IReadOnlyList<ImageSegment> Segments => _image.Segments;

    /// <summary>Every mmap, mprotect and munmap made for this library, in order.</summary>
    public IReadOnlyList<MappingStep> MappingSteps => _image.MappingSteps;

    /// <summary>Unloads the library (unmaps its image). Idempotent.</summary>
    public void Dispose() => _image.Dispose();

    private static ElfLibrary Complete(ElfImage image)
    {
        try
        {
            // Relocation will happen here (linking stage); RELRO is protected once it is done.
            image.ApplyRelro();
            return new ElfLibrary(image);
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }
}
