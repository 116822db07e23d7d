namespace Loader.Linking;

/// <summary>
/// The modules a symbol lookup searches, in order. glibc's <c>dlopen(RTLD_LOCAL)</c> order: the global scope (the
/// host's runtime libraries, in the host's load order), then the local scope (the library loaded, then its DT_NEEDED
/// tree breadth-first). With <see cref="LoadOptions.DeepBind"/> the local scope comes first, like
/// <c>RTLD_DEEPBIND</c>. A module in both is searched once, at its first place.
/// </summary>
internal sealed class LookupScope
{
    private readonly Module[] _modules;
    private readonly int _firstPartCount; // the parts are contiguous: the first part's modules, then the second's

    private readonly GlobalScopeFilter? _globalFilter;

    /// <param name="global">The global scope.</param>
    /// <param name="local">The local scope.</param>
    /// <param name="deepBind">Local first.</param>
    /// <param name="filterGlobal">True when <paramref name="global"/> is an array shared between loads (the default
    /// policy's): a <see cref="GlobalScopeFilter"/> is built once for it and lets lookups skip it.</param>
    public LookupScope(IReadOnlyList<Module> global, IReadOnlyList<Module> local, bool deepBind, bool filterGlobal = false)
    {
        DeepBind = deepBind;
        if (filterGlobal && global is Module[] shared)
            _globalFilter = GlobalScopeFilter.For(shared);
        var first = deepBind ? local : global;
        var second = deepBind ? global : local;
        // Each part lists a module once (the global scope is the host's distinct libraries, the local scope a
        // breadth-first walk); a module of the second part already in the first is left out. Only a host library can
        // be in both, so only those are looked for, among the first part's few modules.
        var modules = new Module[first.Count + second.Count];
        int count = 0;
        for (int i = 0; i < first.Count; i++)
            modules[count++] = first[i];
        _firstPartCount = count;
        for (int i = 0; i < second.Count; i++)
        {
            var module = second[i];
            if (module.IsHost && Contains(first, module))
                continue;
            modules[count++] = module;
        }
        if (count < modules.Length)
            Array.Resize(ref modules, count);
        _modules = modules;
    }

    private static bool Contains(IReadOnlyList<Module> modules, Module module)
    {
        for (int i = 0; i < modules.Count; i++)
            if (modules[i] == module)
                return true;
        return false;
    }

    /// <summary>The modules in search order.</summary>
    public ReadOnlySpan<Module> Modules => _modules;

    /// <summary>
    /// The modules a lookup of a name whose GNU hash is <paramref name="gnuHash"/> must search, in order: all of them,
    /// or all but the global scope's when its filter shows that none of those defines the name.
    /// </summary>
    public ReadOnlySpan<Module> ModulesFor(uint gnuHash)
    {
        if (_globalFilter is null || _globalFilter.MayContain(gnuHash))
            return _modules;
        return DeepBind ? _modules.AsSpan(0, _firstPartCount) : _modules.AsSpan(_firstPartCount);
    }

    /// <summary>The number of modules.</summary>
    public int Count => _modules.Length;

    /// <summary>Global or local, for the module at <paramref name="index"/>.</summary>
    public ScopePart PartAt(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _modules.Length);
        return (index < _firstPartCount) != DeepBind ? ScopePart.Global : ScopePart.Local;
    }

    /// <summary>True when the local scope is searched first.</summary>
    public bool DeepBind { get; }

    /// <summary>The scope as public records, in search order.</summary>
    public IReadOnlyList<ModuleInfo> ToInfos() => [.. _modules.Select(m => m.Info)];
}
