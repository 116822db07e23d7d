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
        var modules = new Module[global.Count + local.Count];
        var parts = new ScopePart[modules.Length];
        int count = 0;
        if (deepBind)
        {
            count = Add(local, ScopePart.Local, modules, parts, count);
            count = Add(global, ScopePart.Global, modules, parts, count);
        }
        else
        {
            count = Add(global, ScopePart.Global, modules, parts, count);
            count = Add(local, ScopePart.Local, modules, parts, count);
        }
        _modules = count == modules.Length ? modules : modules[..count];
        _parts = count == parts.Length ? parts : parts[..count];
    }

    /// <summary>Appends each module of <paramref name="list"/> not already in the first <paramref name="count"/>:
    /// a scope holds a few dozen modules, so a scan costs less than a set built per load.</summary>
    private static int Add(IReadOnlyList<Module> list, ScopePart part, Module[] modules, ScopePart[] parts, int count)
    {
        foreach (var m in list)
        {
            if (Array.IndexOf(modules, m, 0, count) >= 0)
                continue;
            modules[count] = m;
            parts[count] = part;
            count++;
        }
        return count;
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
