namespace Loader.Linking;

/// <summary>
/// Which libraries a load takes from the host process instead of mapping its own copy: the system runtime
/// (<see cref="HostModules.SystemRuntime"/>, because a process can hold only one working libc) plus
/// <see cref="LoadOptions.HostLibraries"/>. The one owner of those names and of the rule that matches a library
/// against them; the load, the global scope and the CLI all ask here.
/// </summary>
/// <remarks>
/// The rule: a name (a DT_NEEDED entry, a DT_SONAME, a path given to Load) is a host library when it, or its file
/// name, is one of the names or one of their file names. A module the host already has is one when its DT_SONAME,
/// its path or its path's file name is.
/// </remarks>
public sealed class HostLibraryPolicy
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly IReadOnlyList<string> _extra;

    private HostLibraryPolicy(IReadOnlyList<string> extra)
    {
        _extra = extra;
        foreach (string name in HostModules.SystemRuntime)
            Add(name);
        foreach (string name in extra)
            Add(name);

        void Add(string name)
        {
            _names.Add(name);
            _names.Add(Path.GetFileName(name));
        }
    }

    /// <summary>The system runtime only: what a load with default options takes from the host.</summary>
    public static HostLibraryPolicy Default { get; } = new([]);

    /// <summary>The policy a load with <paramref name="options"/> follows.</summary>
    public static HostLibraryPolicy For(LoadOptions? options)
    {
        var extra = options?.HostLibraries ?? [];
        return extra.Count == 0 ? Default : new HostLibraryPolicy(extra);
    }

    /// <summary>True when a library named <paramref name="nameOrPath"/> (a soname, a file name or a path) is taken
    /// from the host.</summary>
    public bool IsHostLibrary(string nameOrPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(nameOrPath);
        return _names.Contains(nameOrPath) || ContainsFileNameOf(nameOrPath);
    }

    /// <summary>True when <paramref name="path"/> itself (not only its file name) is one of the names: a path given in
    /// <see cref="LoadOptions.HostLibraries"/>.</summary>
    internal bool NamesPath(string path) => path.Contains('/') && _names.Contains(path);

    /// <summary>True when a module the host already has is one of the host libraries (by soname, path or file name).</summary>
    public bool IsHostLibrary(HostModule module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return (module.SoName is { } soname && _names.Contains(soname))
            || _names.Contains(module.Path) || ContainsFileNameOf(module.Path);
    }

    /// <summary>Whether the file name of <paramref name="path"/> is one of the names, compared in place: every file a
    /// load maps is asked about, and a file name cut out as a string would be allocated each time.</summary>
    private bool ContainsFileNameOf(string path)
    {
        var fileName = Path.GetFileName(path.AsSpan());
        if (fileName.Length == path.Length)
            return false; // no directory part: the name itself, already looked for
        foreach (string name in _names) // a few dozen names
            if (fileName.SequenceEqual(name))
                return true;
        return false;
    }

    /// <summary>
    /// The host's copy a load of this file would take, if the process has it: the host module with the same device
    /// and inode, or one whose soname is <paramref name="soName"/>, when it is a host library. Nothing is loaded to
    /// find out (a host library the process has not loaded yet gives null; a load would <c>dlopen</c> it).
    /// </summary>
    /// <param name="device">st_dev of the file.</param>
    /// <param name="inode">st_ino of the file.</param>
    /// <param name="soName">The file's DT_SONAME, or null.</param>
    public HostModule? FindLoadedCopy(ulong device, ulong inode, string? soName)
    {
        if (HostModules.FindByFile(device, inode) is { } byFile && IsHostLibrary(byFile))
            return byFile;
        if (string.IsNullOrEmpty(soName) || !IsHostLibrary(soName))
            return null;
        var modules = HostModules.Enumerate();
        for (int i = 0; i < modules.Count; i++)
            if (modules[i] is { IsMainProgram: false, IsVdso: false } module && module.SoName == soName)
                return module;
        return null;
    }

    /// <summary>
    /// The host modules of the global scope, in the host's load order: every module the process has that is a host
    /// library (never the main program or the vDSO). Each of <see cref="LoadOptions.HostLibraries"/> is loaded by the
    /// system loader first if the process does not have it yet.
    /// </summary>
    /// <exception cref="LoaderException">A name in <see cref="LoadOptions.HostLibraries"/> cannot be loaded by the system loader.</exception>
    internal List<HostModule> GlobalScope()
    {
        foreach (string name in _extra)
            Get(name, "named in LoadOptions.HostLibraries");
        var result = new List<HostModule>();
        foreach (var host in HostModules.Enumerate())
            if (InGlobalScope(host))
                result.Add(host);
        return result;
    }

    /// <summary>True when <paramref name="host"/> belongs to the global scope: a host library, never the main program
    /// or the vDSO.</summary>
    internal bool InGlobalScope(HostModule host) => !host.IsMainProgram && !host.IsVdso && IsHostLibrary(host);

    /// <summary>The host's copy of a host library, loaded by the system loader if the process does not have it yet.</summary>
    /// <exception cref="LoaderException">The system loader cannot load it.</exception>
    internal static HostModule Get(string nameOrPath, string why) =>
        HostModules.Get(nameOrPath, out string? error)
            ?? ThrowHelper.Refused<HostModule>(nameOrPath, $"{nameOrPath}: {why}, but the system loader could not load it: {error}");
}
