namespace Loader.Linking;

/// <summary>
/// The modules a symbol lookup searches, in order. glibc's <c>dlopen(RTLD_LOCAL)</c> order: the global scope (the
/// host's runtime libraries, in the host's load order), then the local scope (the library loaded, then its DT_NEEDED
/// tree breadth-first). With <see cref="LoadOptions.DeepBind"/> the local scope comes first, like
/// <c>RTLD_DEEPBIND</c>. A module in both is searched once, at its first place.
/// </summary>
internal sealed class LookupScope
{
    // The two parts, searched in order: the first is the global scope (the process's shared array, never copied) or,
    // with DeepBind, the local scope; the second the other, without the modules the first already has.
    private readonly Module[] _first;
    private readonly Module[] _second;
    // The second part when it is one module (a load whose own modules add just its root to the global scope, the
    // usual case): no array of one, which a load would make and keep for as long as the module lives.
    private readonly Module? _secondOnly;
    private static readonly Module[] NoModules = new Module[0];

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
        {
            _globalFilter = GlobalScopeFilter.For(shared);
            if (!deepBind)
                GlobalMemo = GlobalScopeMemo.For(shared);
        }
        var first = deepBind ? local : global;
        var second = deepBind ? global : local;
        _first = first as Module[] ?? Copy(first);
        // Each part lists a module once (the global scope is the host's distinct libraries, the local scope a
        // breadth-first walk); only a host library can be in both, so only those are looked for in the first part.
        int kept = 0;
        for (int i = 0; i < second.Count; i++)
            if (!(second[i].IsHost && Module.IsIn(_first, second[i])))
                kept++;
        if (kept == second.Count && second is Module[] whole)
        {
            _second = whole;
            return;
        }
        if (kept == 1)
        {
            _second = NoModules;
            for (int i = 0; i < second.Count; i++)
                if (!(second[i].IsHost && Module.IsIn(_first, second[i])))
                    _secondOnly = second[i];
            return;
        }
        _second = new Module[kept];
        for (int i = 0, n = 0; i < second.Count; i++)
            if (!(second[i].IsHost && Module.IsIn(_first, second[i])))
                _second[n++] = second[i];
    }

    // A loop, not [.. modules]: over an IReadOnlyList that is LINQ's ToArray, and System.Linq one more assembly to load
    // on the first load.
    private static Module[] Copy(IReadOnlyList<Module> modules)
    {
        var copy = new Module[modules.Count];
        for (int i = 0; i < copy.Length; i++)
            copy[i] = modules[i];
        return copy;
    }

    /// <summary>What relocations' lookups found in the global part before, when it is searched first and shared
    /// between loads (the default policy's host libraries); null otherwise.</summary>
    public GlobalScopeMemo? GlobalMemo { get; }

    /// <summary>The modules searched first (the global scope, or with DeepBind the local scope).</summary>
    public ReadOnlySpan<Module> First => _first;

    /// <summary>The modules searched after <see cref="First"/>.</summary>
    public ReadOnlySpan<Module> Second => _secondOnly is null ? _second : new ReadOnlySpan<Module>(in _secondOnly);

    /// <summary>
    /// The modules of the global part a lookup of a name whose GNU hash is <paramref name="gnuHash"/> has to ask, in
    /// order: from the first one its filter shows may define the name (<see cref="GlobalScopeFilter.FirstCandidate"/>),
    /// none when no module may; the whole global part when there is no filter.
    /// </summary>
    public ReadOnlySpan<Module> GlobalCandidates(uint gnuHash)
    {
        if (_globalFilter is null)
            return DeepBind ? Second : First;
        // With DeepBind the global part comes second, without the host libraries the local part has: the filter's
        // module indices are the whole global array's, so only its Bloom filter answers (no module defines the name).
        if (DeepBind)
            return _globalFilter.MayContain(gnuHash) ? Second : default;
        int first = _globalFilter.FirstCandidate(gnuHash);
        return first < 0 ? default : _first.AsSpan(first);
    }

    /// <summary>The number of modules.</summary>
    public int Count => _first.Length + Second.Length;

    /// <summary>The module at <paramref name="index"/> in search order.</summary>
    public Module this[int index] => index < _first.Length ? _first[index] : Second[index - _first.Length];

    /// <summary>Global or local, for the module at <paramref name="index"/>.</summary>
    public ScopePart PartAt(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return (index < _first.Length) != DeepBind ? ScopePart.Global : ScopePart.Local;
    }

    /// <summary>True when the local scope is searched first.</summary>
    public bool DeepBind { get; }

    /// <summary>The scope as public records, in search order.</summary>
    public IReadOnlyList<ModuleInfo> ToInfos()
    {
        var result = new ModuleInfo[Count];
        for (int i = 0; i < result.Length; i++)
            result[i] = this[i].Info;
        return result;
    }

    /// <summary>The modules' names in search order, comma-separated, for a refusal's message. A loop, not LINQ: the
    /// relocator's hot method names this in its error path, and a lambda there is loaded with the method.</summary>
    public string NamesText()
    {
        var names = new string[Count];
        for (int i = 0; i < names.Length; i++)
            names[i] = this[i].Info.Name;
        return string.Join(", ", names);
    }
}
