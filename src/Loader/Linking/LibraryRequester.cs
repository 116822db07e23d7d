using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// Who asks for a <c>DT_NEEDED</c>: what <see cref="LibrarySearch"/> needs to know of it, as glibc's
/// <c>_dl_map_object</c> reads it from the requesting <c>link_map</c>.
/// </summary>
/// <param name="Path">The requester's path, as it was opened; <c>$ORIGIN</c> is its directory (made absolute
/// against the current directory, as glibc's <c>_dl_new_object</c> does, without resolving symbolic links).</param>
/// <param name="RunPath">Its <c>DT_RUNPATH</c>, or null. When present, its <c>DT_RPATH</c> is ignored (glibc's
/// <c>elf_get_dynamic_info</c> drops <c>DT_RPATH</c> when both are given) and no inherited <c>DT_RPATH</c> is searched.</param>
/// <param name="RPath">Its <c>DT_RPATH</c>, or null. It also serves the libraries it loads (inherited down
/// <see cref="LoadedBy"/>).</param>
/// <param name="LoadedBy">The library whose <c>DT_NEEDED</c> brought this one in (glibc's <c>l_loader</c>), or null
/// for the library given to <c>Load</c>.</param>
public sealed record LibraryRequester(string Path, string? RunPath, string? RPath, LibraryRequester? LoadedBy)
{
    /// <summary>The requester for <paramref name="file"/>'s own <c>DT_NEEDED</c> entries.</summary>
    /// <param name="file">The library that needs others; its <see cref="ElfFile.Name"/> is its path.</param>
    /// <param name="loadedBy">The requester that loaded <paramref name="file"/>, or null for the root.</param>
    public static LibraryRequester For(ElfFile file, LibraryRequester? loadedBy)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new LibraryRequester(file.Name, file.RunPath, file.RPath, loadedBy);
    }
}
