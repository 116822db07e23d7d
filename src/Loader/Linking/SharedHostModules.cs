namespace Loader.Linking;

/// <summary>
/// The one <see cref="Module"/> per host library for the whole process, shared by every namespace: a host module holds
/// nothing a namespace changes (no reference count, no handles, no life-cycle flags — the host never unloads it), only
/// what is read from the host (its tables in place, its DT_NEEDED tree as the host linked it, the scope and search
/// list derived from that). So a new <see cref="LoaderContext"/> costs no copy of the host libraries in its global
/// scope. Held by the <see cref="HostModule"/> itself, which <see cref="HostModules"/> keeps for as long as the
/// process has that object loaded (by base address, program headers and name, refreshed on
/// <c>dl_iterate_phdr</c>'s <c>dlpi_adds</c>/<c>dlpi_subs</c>), so a module lives exactly as long as that.
/// </summary>
internal static class SharedHostModules
{
    private static readonly Lock s_lock = new();

    /// <summary>
    /// The module for a host library, with its DT_NEEDED tree: each entry of the host's own dynamic section is the
    /// module the host loaded for it (<see cref="HostModules.FindLoaded"/>), so <c>dlsym</c> on its handle searches
    /// what glibc's <c>dlsym</c> on glibc's handle searches (<see cref="Module.LocalSearchList"/>). The host's edges
    /// are not reference-counted: the host never unloads them. Kept on the <see cref="HostModule"/> itself
    /// (<see cref="HostModule.SharedModule"/>), not in a table keyed by it: a <c>ConditionalWeakTable</c> and the
    /// dictionary and queue of its construction loaded some twenty types on every process's first load.
    /// </summary>
    public static Module Get(HostModule host)
    {
        if (Volatile.Read(ref host.SharedModule) is { } known)
            return known;
        lock (s_lock)
        {
            if (host.SharedModule is { } published)
                return published;
            // The tree is built aside (ModuleBeingBuilt) and published whole, so a reader without the lock never sees a
            // module whose edges are still being added. Every module is marked before its own entries are read, so a
            // DT_NEEDED cycle ends.
            var root = Module.ForHost(host);
            var built = new List<Module> { root };
            host.ModuleBeingBuilt = root;
            try
            {
                for (int next = 0; next < built.Count; next++)
                {
                    var module = built[next];
                    foreach (string needed in module.Host!.Tables.Needed)
                    {
                        if (needed.Length == 0 || HostModules.FindLoaded(needed) is not { } loaded)
                            continue; // nothing the host has answers to it (glibc would not have loaded the library)
                        var dependency = loaded.SharedModule ?? loaded.ModuleBeingBuilt;
                        if (dependency is null)
                        {
                            dependency = Module.ForHost(loaded);
                            loaded.ModuleBeingBuilt = dependency;
                            built.Add(dependency);
                        }
                        module.AddNeeded(dependency, needed, DependencySource.Host, attempts: null);
                    }
                }
                foreach (var module in built)
                    Volatile.Write(ref module.Host!.SharedModule, module);
            }
            finally
            {
                foreach (var module in built)
                    module.Host!.ModuleBeingBuilt = null;
            }
            return root;
        }
    }

    /// <summary>The same modules in the same order, by reference (a span's <c>SequenceEqual</c> would ask for
    /// <c>EqualityComparer&lt;Module&gt;.Default</c>: see <see cref="Module.IndexIn"/>).</summary>
    private static bool SameModules(Module[] a, Module[] b)
    {
        if (a.Length != b.Length)
            return false;
        for (int i = 0; i < a.Length; i++)
        {
            if (!ReferenceEquals(a[i], b[i]))
                return false;
        }
        return true;
    }

    /// <summary>The global scope of the default policy, made once per list of host modules (a new list is made only
    /// when <c>dl_iterate_phdr</c>'s counters moved): what every load with default options searches first.</summary>
    private sealed record DefaultScope(IReadOnlyList<HostModule> Hosts, Module[] Modules);

    private static DefaultScope? s_defaultScope;

    /// <summary>
    /// The global scope of a load following <paramref name="policy"/>: the host libraries the process has, in the
    /// host's load order. Shared and never changed: for the default policy, the same array until the host's modules
    /// change.
    /// </summary>
    public static Module[] GlobalScope(HostLibraryPolicy policy)
    {
        if (!ReferenceEquals(policy, HostLibraryPolicy.Default))
        {
            var hosts = policy.GlobalScope();
            var modules = new Module[hosts.Count];
            for (int i = 0; i < modules.Length; i++)
                modules[i] = Get(hosts[i]);
            return modules;
        }
        var current = HostModules.Enumerate();
        var known = Volatile.Read(ref s_defaultScope);
        if (known is not null && ReferenceEquals(known.Hosts, current))
            return known.Modules;
        int count = 0;
        for (int i = 0; i < current.Count; i++)
            if (current[i].InDefaultGlobalScope)
                count++;
        var scope = new Module[count];
        for (int i = 0, n = 0; i < current.Count; i++)
            if (current[i].InDefaultGlobalScope)
                scope[n++] = Get(current[i]);
        // The host loaded or unloaded something that is not a host library (a plugin through dlopen): the scope is
        // the same modules, so the same array is kept, and what is made once per array (GlobalScopeFilter) stands.
        if (known is not null && SameModules(known.Modules, scope))
            scope = known.Modules;
        Volatile.Write(ref s_defaultScope, new DefaultScope(current, scope));
        return scope;
    }
}
