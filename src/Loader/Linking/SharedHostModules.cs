using System.Runtime.CompilerServices;

namespace Loader.Linking;

/// <summary>
/// The one <see cref="Module"/> per host library for the whole process, shared by every namespace: a host module holds
/// nothing a namespace changes (no reference count, no handles, no life-cycle flags — the host never unloads it), only
/// what is read from the host (its tables in place, its DT_NEEDED tree as the host linked it, the scope and search
/// list derived from that). So a new <see cref="LoaderContext"/> costs no copy of the host libraries in its global
/// scope. Keyed by the <see cref="HostModule"/> itself, which <see cref="HostModules"/> keeps for as long as the
/// process has that object loaded (by base address, program headers and name, refreshed on
/// <c>dl_iterate_phdr</c>'s <c>dlpi_adds</c>/<c>dlpi_subs</c>); the table holds its entries only as long as that.
/// </summary>
internal static class SharedHostModules
{
    private static readonly ConditionalWeakTable<HostModule, Module> s_modules = new();
    private static readonly Lock s_lock = new();

    /// <summary>
    /// The module for a host library, with its DT_NEEDED tree: each entry of the host's own dynamic section is the
    /// module the host loaded for it (<see cref="HostModules.FindLoaded"/>), so <c>dlsym</c> on its handle searches
    /// what glibc's <c>dlsym</c> on glibc's handle searches (<see cref="Module.LocalSearchList"/>). The host's edges
    /// are not reference-counted: the host never unloads them.
    /// </summary>
    public static Module Get(HostModule host)
    {
        if (s_modules.TryGetValue(host, out var known))
            return known;
        lock (s_lock)
        {
            if (s_modules.TryGetValue(host, out known))
                return known;
            // The tree is built aside and published whole, so a reader without the lock never sees a module whose
            // edges are still being added. Every module is in the table before its own entries are read, so a
            // DT_NEEDED cycle ends.
            var building = new Dictionary<HostModule, Module>();
            var root = Module.ForHost(host);
            building[host] = root;
            var pending = new Queue<Module>();
            pending.Enqueue(root);
            while (pending.TryDequeue(out var module))
            {
                foreach (string needed in module.Host!.Tables.Needed)
                {
                    if (needed.Length == 0 || HostModules.FindLoaded(needed) is not { } loaded)
                        continue; // nothing the host has answers to it (glibc would not have loaded the library)
                    if (!s_modules.TryGetValue(loaded, out var dependency) && !building.TryGetValue(loaded, out dependency))
                    {
                        dependency = Module.ForHost(loaded);
                        building[loaded] = dependency;
                        pending.Enqueue(dependency);
                    }
                    module.AddNeeded(dependency, needed, DependencySource.Host, attempts: null);
                }
            }
            foreach (var (key, module) in building)
                s_modules.TryAdd(key, module);
            return root;
        }
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
        if (known is not null && known.Modules.AsSpan().SequenceEqual(scope))
            scope = known.Modules;
        Volatile.Write(ref s_defaultScope, new DefaultScope(current, scope));
        return scope;
    }
}
