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
    private readonly ScopePart[] _parts;

    public LookupScope(IReadOnlyList<Module> global, IReadOnlyList<Module> local, bool deepBind)
    {
        DeepBind = deepBind;
        var modules = new List<Module>(global.Count + local.Count);
        var parts = new List<ScopePart>(global.Count + local.Count);
        var seen = new HashSet<Module>();
        void Add(IReadOnlyList<Module> list, ScopePart part)
        {
            foreach (var m in list)
            {
                if (seen.Add(m))
                {
                    modules.Add(m);
                    parts.Add(part);
                }
            }
        }
        if (deepBind)
        {
            Add(local, ScopePart.Local);
            Add(global, ScopePart.Global);
        }
        else
        {
            Add(global, ScopePart.Global);
            Add(local, ScopePart.Local);
        }
        _modules = [.. modules];
        _parts = [.. parts];
    }

    /// <summary>The modules in search order.</summary>
    public ReadOnlySpan<Module> Modules => _modules;

    /// <summary>The number of modules.</summary>
    public int Count => _modules.Length;

    /// <summary>Global or local, for the module at <paramref name="index"/>.</summary>
    public ScopePart PartAt(int index) => _parts[index];

    /// <summary>True when the local scope is searched first.</summary>
    public bool DeepBind { get; }

    /// <summary>The scope as public records, in search order.</summary>
    public IReadOnlyList<ModuleInfo> ToInfos() => [.. _modules.Select(m => m.Info)];
}
