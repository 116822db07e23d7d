namespace Loader.Linking;

/// <summary>How a DT_NEEDED entry was satisfied.</summary>
public enum DependencySource
{
    /// <summary>Found with the library search and mapped by Loader for this load.</summary>
    Loaded,

    /// <summary>Already loaded in the context (same DT_SONAME, path, or device and inode): reused, reference-counted.</summary>
    Reused,

    /// <summary>A host library (system runtime or <see cref="LoadOptions.HostLibraries"/>): the host's copy is used.</summary>
    Host,
}

/// <summary>One DT_NEEDED edge of the dependency tree as Loader resolved it.</summary>
/// <param name="Needed">The DT_NEEDED string.</param>
/// <param name="RequestedBy">The library whose DT_NEEDED it is.</param>
/// <param name="Module">The module that satisfies it.</param>
/// <param name="Source">Loaded, reused or taken from the host.</param>
/// <param name="Attempts">Every place the search tried, in order (empty for a host library or a reuse by name).</param>
/// <param name="Depth">1 for the loaded library's own DT_NEEDED entries, 2 for theirs, and so on (breadth-first).</param>
public sealed record LibraryDependency(
    string Needed, ModuleInfo RequestedBy, ModuleInfo Module, DependencySource Source, IReadOnlyList<SearchAttempt> Attempts, int Depth)
{
    /// <summary>The rule that found the file (<c>DT_RUNPATH of …</c>, <c>/etc/ld.so.cache</c>, …), or <c>host</c>,
    /// or <c>already loaded</c>.</summary>
    public string FoundVia => Source switch
    {
        DependencySource.Host => "host",
        _ => Attempts.LastOrDefault(a => a.Outcome == SearchAttempt.Found)?.Source ?? "already loaded",
    };

    /// <summary><c>libb.so =&gt; /path/libb.so (DT_RUNPATH of /path/liba.so)</c>.</summary>
    public override string ToString() => $"{Needed} => {Module.Path} ({FoundVia})";
}
