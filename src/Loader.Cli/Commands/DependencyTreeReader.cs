using Loader.Elf;
using Loader.Linking;

namespace Loader.Cli.Commands;

/// <summary>What became of one library of the tree.</summary>
internal enum TreeStatus
{
    /// <summary>Found by the search; a load would map it.</summary>
    Found,
    /// <summary>A host library: a load takes the process's copy (or has the system loader load it).</summary>
    Host,
    /// <summary>Nothing found anywhere the search looked.</summary>
    Missing,
    /// <summary>Found, but not a file a load can use (the reason says why).</summary>
    Unusable,
}

/// <summary>One library of the tree, read from its file (never mapped).</summary>
internal sealed class TreeLibrary(string needed, string? path, TreeStatus status)
{
    public string Needed { get; } = needed;
    public string? Path { get; } = path;
    public TreeStatus Status { get; set; } = status;
    public string? SoName { get; set; }
    public string? FoundVia { get; set; }
    public string? Error { get; set; }
    public nint? HostBase { get; set; }
    public int Depth { get; set; }
    public IReadOnlyList<SearchAttempt> Attempts { get; set; } = [];
    public List<TreeEdge> Edges { get; } = [];
    public LibraryRequester? Requester { get; set; }
    public IReadOnlyList<string> Needs { get; set; } = [];
    public string Name => SoName ?? (Path is null ? Needed : System.IO.Path.GetFileName(Path));
}

/// <summary>One DT_NEEDED entry: the library it named, and whether this entry brought it into the tree first.</summary>
internal sealed record TreeEdge(string Needed, TreeLibrary Library, bool First);

/// <summary>
/// Resolves a library's DT_NEEDED tree the way a load would — host libraries by <see cref="HostLibraryPolicy"/>, a
/// soname already in the tree reused, everything else through <see cref="LibraryLocator"/> (the load's own search),
/// breadth-first — without loading anything: each file's DT_NEEDED, DT_SONAME, DT_RUNPATH and DT_RPATH are read with
/// <see cref="ElfFile.Open"/> (a copy read with pread; nothing mapped, nothing run). A library that cannot be found
/// or read is marked and the rest of the tree is still resolved. Host libraries show their own DT_NEEDED too, read
/// from the file.
/// </summary>
internal sealed class DependencyTreeReader
{
    private readonly LibraryLocator _locator = new();
    private readonly HostLibraryPolicy _hosts = HostLibraryPolicy.Default;
    private readonly List<HostModule> _process = HostModules.Enumerate().Where(HostLibraryPolicy.Default.IsHostLibrary).ToList();
    private readonly Dictionary<string, TreeLibrary> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TreeLibrary> _byFile = new(StringComparer.Ordinal);

    /// <summary>Every library of the tree but the root, in the order found (breadth-first).</summary>
    public List<TreeLibrary> Libraries { get; } = [];

    /// <summary>Reads the tree of <paramref name="path"/>.</summary>
    /// <exception cref="LoaderException">The file itself cannot be read as ELF.</exception>
    /// <exception cref="IOException">The file itself cannot be read.</exception>
    public TreeLibrary Read(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        var root = new TreeLibrary(path, full, TreeStatus.Found);
        using (var file = ElfFile.Open(full))
            Describe(root, file, loadedBy: null);
        var copy = HostCopyOf(RealPath.Of(full), root.SoName);
        if (copy is not null || _hosts.IsHostLibrary(path) || (root.SoName is { Length: > 0 } s && _hosts.IsHostLibrary(s)))
        {
            root.Status = TreeStatus.Host;
            root.HostBase = copy?.Base;
        }
        Register(root, root.SoName, full);

        var queue = new Queue<TreeLibrary>();
        queue.Enqueue(root);
        while (queue.TryDequeue(out var library))
        {
            foreach (string needed in library.Needs)
            {
                var (target, first) = Resolve(needed, library);
                library.Edges.Add(new TreeEdge(needed, target, first));
                if (!first)
                    continue;
                target.Depth = library.Depth + 1;
                Libraries.Add(target);
                if (target.Status is TreeStatus.Found or TreeStatus.Host)
                    queue.Enqueue(target);
            }
        }
        return root;
    }

    private (TreeLibrary Library, bool First) Resolve(string needed, TreeLibrary requester)
    {
        if (needed.Length == 0)
            return (new TreeLibrary(needed, null, TreeStatus.Unusable) { Error = "DT_NEEDED names the empty string: there is no library to look for" }, true);
        if (_byName.TryGetValue(needed, out var known))
            return (known, false);

        var attempts = new List<SearchAttempt>();
        if (_hosts.IsHostLibrary(needed))
        {
            // The process's copy when it has one; otherwise a load would have the system loader load it: show the file.
            var copy = _process.FirstOrDefault(m => m.SoName == needed || System.IO.Path.GetFileName(m.Path) == needed);
            string? searchError = null;
            string? hostPath = copy?.Path ?? Find(needed, requester, attempts, out searchError);
            var host = searchError is not null
                ? new TreeLibrary(needed, attempts.LastOrDefault()?.Path, TreeStatus.Unusable) { Error = searchError, Attempts = attempts }
                : Open(needed, hostPath, requester, TreeStatus.Host, attempts);
            host.HostBase = copy?.Base;
            host.FoundVia = copy is not null ? "host" : "host, not in this process: found by the search";
            Register(host, host.SoName, hostPath);
            _byName[needed] = host;
            return (host, true);
        }

        string? path;
        try
        {
            path = _locator.Find(needed, requester.Requester, attempts);
        }
        catch (LoaderException ex)
        {
            var unusable = new TreeLibrary(needed, attempts.LastOrDefault()?.Path, TreeStatus.Unusable) { Error = ex.Message, Attempts = attempts };
            _byName[needed] = unusable;
            return (unusable, true);
        }
        if (path is null)
        {
            var missing = new TreeLibrary(needed, null, TreeStatus.Missing) { Error = "not found", Attempts = attempts };
            _byName[needed] = missing;
            return (missing, true);
        }
        string real = RealPath.Of(path);
        if (_byFile.TryGetValue(real, out var sameFile))
            return (sameFile, false);
        var library = Open(needed, path, requester, TreeStatus.Found, attempts);
        library.FoundVia = attempts.LastOrDefault(a => a.Outcome == SearchAttempt.Found)?.Source;
        if (library.Status == TreeStatus.Found && (HostCopyOf(real, library.SoName) is { } copyOfHost))
        {
            library.Status = TreeStatus.Host;
            library.HostBase = copyOfHost.Base;
            library.FoundVia += "; the host's copy is used";
        }
        else if (library.Status == TreeStatus.Found && library.SoName is { Length: > 0 } soname && _hosts.IsHostLibrary(soname))
        {
            library.Status = TreeStatus.Host;
            library.FoundVia += $"; its DT_SONAME {soname} is a host library";
        }
        Register(library, library.SoName, path);
        _byName[needed] = library;
        return (library, true);
    }

    private string? Find(string needed, TreeLibrary requester, List<SearchAttempt> attempts, out string? error)
    {
        error = null;
        try
        {
            return _locator.Find(needed, requester.Requester, attempts);
        }
        catch (LoaderException ex)
        {
            error = ex.Message;
            return null;
        }
    }

    /// <summary>Reads a found file's dynamic section; a file that cannot be read is marked unusable with the reason.</summary>
    private static TreeLibrary Open(string needed, string? path, TreeLibrary requester, TreeStatus status, List<SearchAttempt> attempts)
    {
        if (path is null)
            return new TreeLibrary(needed, null, TreeStatus.Missing) { Error = "not found", Attempts = attempts };
        var library = new TreeLibrary(needed, path, status) { Attempts = attempts };
        try
        {
            using var file = ElfFile.Open(path);
            Describe(library, file, requester.Requester);
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex))
        {
            library.Status = TreeStatus.Unusable;
            library.Error = ex is LoaderException ? ex.Message : $"{path}: {ex.Message}";
        }
        return library;
    }

    private static void Describe(TreeLibrary library, ElfFile file, LibraryRequester? loadedBy)
    {
        library.SoName = string.IsNullOrEmpty(file.SoName) ? null : file.SoName;
        library.Needs = file.Needed.ToArray();
        library.Requester = LibraryRequester.For(file, loadedBy);
    }

    /// <summary>As a load remembers a module: by its DT_SONAME and its file.</summary>
    private void Register(TreeLibrary library, string? soName, string? path)
    {
        if (!string.IsNullOrEmpty(soName))
            _byName.TryAdd(soName, library);
        if (path is not null)
        {
            _byName.TryAdd(path, library);
            _byFile.TryAdd(RealPath.Of(path), library);
        }
    }

    /// <summary>The process's copy of this file, when it is a host library the process has.</summary>
    private HostModule? HostCopyOf(string realPath, string? soName)
    {
        foreach (var module in _process)
        {
            if (RealPath.Of(module.Path) == realPath || (!string.IsNullOrEmpty(soName) && module.SoName == soName))
                return module;
        }
        return null;
    }
}
