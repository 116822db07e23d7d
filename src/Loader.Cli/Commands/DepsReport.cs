namespace Loader.Cli.Commands;

/// <summary>What <c>loader deps</c> prints: the library and its DT_NEEDED tree, read from the files.</summary>
/// <param name="Host">True when the file given is itself a host library (a load would use the process's copy).</param>
/// <param name="HostBaseAddress">Where the process has that copy, or null.</param>
/// <param name="Summary">The distinct libraries of the tree, counted by what became of them.</param>
internal sealed record DepsReport(string File, string Name, string? SoName, bool Host, ulong? HostBaseAddress, List<DepsNode> Dependencies,
    DepsSummary Summary);

/// <summary>One DT_NEEDED edge: what was asked, what satisfies it, how it was found, and the library's own
/// dependencies (empty where the library was already listed: it is expanded once, where it first appears).</summary>
/// <param name="Status">found (a load would map it), host (the process's copy), missing, unusable, or reused (a
/// library already in the tree: its soname or its file).</param>
/// <param name="Library">What the reused edge's library is (found, host, missing, unusable); the same as
/// <paramref name="Status"/> otherwise.</param>
/// <param name="Path">The file, or null when none was found.</param>
/// <param name="FoundVia">The rule that found it (<c>DT_RUNPATH of …</c>, <c>/etc/ld.so.cache</c>…) or <c>host</c>; null
/// when missing or reused.</param>
/// <param name="Error">Why it cannot be loaded (missing, unusable), or null.</param>
/// <param name="Depth">1 for the library's own DT_NEEDED entries, 2 for theirs (where it was first found, breadth-first).</param>
/// <param name="Attempts">Every place the search tried, in order (empty for the process's copy of a host library and
/// for a reuse).</param>
internal sealed record DepsNode(string Needed, string Status, string Library, string Name, string? Path, string? SoName, ulong? HostBaseAddress,
    string? FoundVia, string? Error, int Depth, List<DepsAttempt> Attempts, List<DepsNode> Dependencies);

/// <summary>One candidate path the search tried: where it came from and what it was.</summary>
internal sealed record DepsAttempt(string Path, string Source, string Outcome);

/// <summary>The distinct libraries of the tree (the file given not counted): <paramref name="Libraries"/> =
/// <paramref name="Found"/> + <paramref name="Host"/> + <paramref name="Missing"/> + <paramref name="Unusable"/>.</summary>
/// <param name="Repeats">DT_NEEDED entries that named a library already in the tree.</param>
internal sealed record DepsSummary(int Libraries, int Found, int Host, int Missing, int Unusable, int Repeats);
