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
                    module.Needed.Add(dependency);
                    module.Links.Add(new LibraryDependency(needed, module.Info, dependency.Info, DependencySource.Host, [], Depth: 1));
                }
            }
            foreach (var (key, module) in building)
                s_modules.TryAdd(key, module);
            return root;
        }
    }
}
