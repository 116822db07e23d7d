using Loader.Mapping;

namespace Loader;

/// <summary>How <see cref="ElfImage.Map(string, MapOptions?)"/> maps an image.</summary>
public sealed record MapOptions
{
    /// <summary>1 GiB: the default limit on an image's address span.</summary>
    public const long DefaultMaxImageSize = 1L << 30;

    /// <summary>The largest address span (lowest to highest PT_LOAD, page-rounded) the loader reserves. Default 1 GiB.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive (a limit of 0 or less is no limit).</exception>
    public long MaxImageSize
    {
        get => _maxImageSize;
        init => _maxImageSize = CheckMaxImageSize(value);
    }

    private readonly long _maxImageSize = DefaultMaxImageSize;

    internal static long CheckMaxImageSize(long value)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(MaxImageSize));
        return value;
    }

    /// <summary>
    /// Make PT_GNU_RELRO read-only at the end of mapping (default true). Set false when the image will be relocated
    /// first; call <see cref="ElfImage.ApplyRelro"/> afterwards.
    /// </summary>
    public bool ApplyRelro { get; init; } = true;

    /// <summary>A range the caller reserved: the image goes at its start (see <see cref="LoadOptions.ReservedRange"/>).</summary>
    public AddressRange? ReservedRange { get; init; }

    /// <summary>A <see cref="ReservedRange"/> that cannot hold the image is passed over instead of refused.</summary>
    public bool ReservedRangeIsHint { get; init; }

    /// <summary>Once RELRO is applied, write it to this file and map it back shared (see <see cref="LoadOptions.WriteRelro"/>;
    /// with <see cref="ApplyRelro"/> false nothing is written).</summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle? WriteRelro { get; init; }

    /// <summary>The defaults.</summary>
    public static MapOptions Default { get; } = new();

    /// <summary>Test hook: called before every step is performed; an exception it throws fails the load there,
    /// so the roll-back can be tested. Null in normal use.</summary>
    internal Action<MappingStep>? BeforeStep { get; init; }

    /// <summary>
    /// Register the image's unwind table with libgcc as soon as the mapper has checked it in the first overlay's
    /// longer mapping, while libgcc's read of its first word (and the kernel's fault-around of the pages beside it)
    /// lands in pages the other overlays replace. Loads set it when the process's libgcc takes only the table itself (GCC
    /// 13 and later); with one that takes an array (<see cref="Linking.LibgccRegistry"/>) the registry registers after
    /// relocation, reading nothing. A plain <see cref="Mapping.ElfImage.Map(string, MapOptions?)"/> registers nothing.
    /// </summary>
    internal bool RegisterUnwindTable { get; init; }

    /// <summary>
    /// Check the unwind table in the first overlay's longer mapping (<see cref="Mapping.UnwindTableCheck.FirstOverlayExtension"/>),
    /// so that a registration after relocation needs no walk of its own. Default true; a load that registers no table
    /// (<see cref="LoadOptions.RegisterUnwindTables"/> false) turns it off, and its image is mapped in the plan's order
    /// without reading the table at all.
    /// </summary>
    internal bool CheckUnwindTable { get; init; } = true;

    /// <summary>
    /// Map a large writable segment's pages with MAP_POPULATE (<see cref="WritablePrefault"/>): the relocations will write
    /// nearly all of them. Loads set it (<see cref="LoadOptions.PrefaultWritableSegments"/>); a plain
    /// <see cref="Mapping.ElfImage.Map(string, MapOptions?)"/>, which relocates nothing, does not.
    /// </summary>
    internal bool PrefaultWritableSegments { get; init; }
}
