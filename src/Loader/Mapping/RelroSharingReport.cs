namespace Loader.Mapping;

/// <summary>Which side of shared RELRO a load was.</summary>
public enum RelroSharingMode
{
    /// <summary><see cref="LoadOptions.WriteRelro"/>: the relocated RELRO was written to the file and mapped back from it.</summary>
    Write,

    /// <summary><see cref="LoadOptions.UseRelro"/>: the pages equal to the file's were mapped from it; the others stayed private.</summary>
    Use,
}

/// <summary>
/// What sharing RELRO did for one image (bionic's <c>ANDROID_DLEXT_WRITE_RELRO</c> / <c>USE_RELRO</c>): how many of
/// PT_GNU_RELRO's whole pages now come from the shared file, how many stayed private (their relocated bytes differ from
/// the file's, or the file is shorter), and where the shared runs lie.
/// </summary>
/// <param name="Mode">Writer or user.</param>
/// <param name="Relro">The RELRO pages, absolute.</param>
/// <param name="PagesShared">Pages mapped <c>MAP_SHARED</c> from the file.</param>
/// <param name="PagesPrivate">Pages kept as this process's own copy.</param>
/// <param name="PageSize">The page size the counts are in.</param>
/// <param name="Sealed">The file is a memfd sealed against writes, shrinking and growing (sealed by the writer, or
/// found sealed by the user): what was compared cannot change afterwards.</param>
/// <param name="SharedRanges">The runs of shared pages, each mapped by one mmap, in address order.</param>
/// <param name="Note">Why pages stayed private or the file is not sealed, in a sentence; null when there is nothing to say.</param>
public sealed record RelroSharingReport(
    RelroSharingMode Mode,
    AddressRange Relro,
    int PagesShared,
    int PagesPrivate,
    ulong PageSize,
    bool Sealed,
    IReadOnlyList<AddressRange> SharedRanges,
    string? Note)
{
    /// <summary>The bytes mapped from the shared file.</summary>
    public ulong BytesShared => (ulong)PagesShared * PageSize;

    /// <summary>The bytes kept private.</summary>
    public ulong BytesPrivate => (ulong)PagesPrivate * PageSize;

    /// <summary>True when <paramref name="address"/> lies in a page mapped from the shared file.</summary>
    public bool IsShared(nint address)
    {
        foreach (var range in SharedRanges)
            if ((ulong)address >= (ulong)range.Start && (ulong)address < (ulong)range.End)
                return true;
        return false;
    }
}
