namespace Loader.Linking;

/// <summary>
/// The search a load uses for a <c>DT_NEEDED</c> entry (glibc's <c>_dl_map_object</c> order: <c>DT_RPATH</c> up the
/// requester chain, <c>LD_LIBRARY_PATH</c>, <c>DT_RUNPATH</c>, <see cref="LoadOptions.SearchPaths"/>,
/// <c>/etc/ld.so.cache</c>, the default directories), for callers that resolve a dependency tree without loading it:
/// each candidate is opened and its ELF header read, nothing is mapped. The same code as the load's, so the answer is
/// the one a load would get.
/// </summary>
public sealed class LibraryLocator
{
    private readonly LibrarySearch _search;

    /// <summary>A search with the paths of <paramref name="options"/> (<see cref="LoadOptions.SearchPaths"/>,
    /// <see cref="LoadOptions.LdLibraryPath"/>; null reads <c>LD_LIBRARY_PATH</c> now).</summary>
    public LibraryLocator(LoadOptions? options = null)
    {
        options ??= LoadOptions.Default;
        _search = new LibrarySearch(options.SearchPaths, options.LdLibraryPath);
    }

    /// <summary>
    /// The file <paramref name="needed"/> resolves to for <paramref name="requester"/>, or null when there is none;
    /// every candidate tried is appended to <paramref name="attempts"/> in order.
    /// </summary>
    /// <param name="needed">The <c>DT_NEEDED</c> string (or a path).</param>
    /// <param name="requester">The library that needs it (<see cref="LibraryRequester.For"/>), or null.</param>
    /// <param name="attempts">Receives every candidate, in order.</param>
    /// <exception cref="ElfFormatException">A candidate is a file glibc's <c>open_verify</c> stops the search at
    /// (not ELF, wrong byte order, …).</exception>
    public string? Find(string needed, LibraryRequester? requester, List<SearchAttempt> attempts) =>
        _search.Find(needed, requester, attempts);
}
