using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// The lookups a handle answers: <c>dlsym</c>/<c>dlvsym</c> (the module, then its DT_NEEDED tree breadth-first; the
/// default <c>@@</c> version) and <c>bind</c>'s explanation of how one reference from the module binds (its
/// relocation scope, every module probed). Both end in the namespace's final step, as relocation does: a unique
/// definition is the namespace's first, an IFUNC is its resolver's result.
/// </summary>
internal static class HandleLookup
{
    /// <summary><c>dlsym</c> on the module's handle: false when no module of its local search list exports the name.</summary>
    /// <remarks>
    /// Allocates nothing on a hit or a miss (the first lookup of a unique symbol and a resolver's first run aside).
    /// The search takes no lock: it reads only the tables of the modules in the local search list, which are fixed
    /// once loaded and stay mapped while the caller's handle holds its reference (as <c>dlsym</c> on a handle is only
    /// defined until its <c>dlclose</c>). What the namespace shares — the unique-symbol table, IFUNC results, and the
    /// search list of a host module not yet asked — is touched under the lock.
    /// </remarks>
    public static bool TryGetExport(ModuleNamespace space, Module module, scoped in SymbolName name, string? version, out nint address)
    {
        if (!SymbolLookup.FindFirst(SearchList(space, module), name, VersionRequest.Export(version), out var found))
        {
            address = 0;
            return false;
        }
        address = AddressOf(space, found);
        return true;
    }

    /// <summary><see cref="TryGetExport(ModuleNamespace, Module, in SymbolName, string?, out nint)"/> for an unversioned
    /// ASCII name (no NUL) with its GNU hash: <c>GetExport</c>'s usual case, through <see cref="ExportSearch"/>.</summary>
    /// <remarks>A found address is kept in the handle's <see cref="ExportCache"/> (a miss is not: it is cheap, and
    /// names that are not there would only push out those that are).</remarks>
    public static bool TryGetExport(ModuleNamespace space, Module module, string asciiName, uint gnuHash, out nint address)
    {
        var cache = Volatile.Read(ref module.Exports);
        if (cache is not null && cache.TryGet(asciiName, gnuHash, out address))
            return true;
        if (!ExportSearch.TryFind(SearchList(space, module), asciiName, gnuHash, out var found))
        {
            address = 0;
            return false;
        }
        address = AddressOf(space, found);
        if (cache is null)
        {
            Interlocked.CompareExchange(ref module.Exports, new ExportCache(), null);
            cache = module.Exports!;
        }
        cache.Add(asciiName, gnuHash, address);
        return true;
    }

    /// <summary>A plain definition's address at once; an IFUNC or a unique symbol through the namespace.</summary>
    private static nint AddressOf(ModuleNamespace space, in ResolvedSymbol found) =>
        !found.IsIfunc && found.Symbol.Binding != SymbolBinding.GnuUnique ? (nint)found.Address : Finish(space, found);

    private static Module[] SearchList(ModuleNamespace space, Module module)
    {
        if (module.KnownLocalSearchList is { } list)
            return list;
        lock (space.SyncRoot)
            return module.LocalSearchList;
    }

    private static nint Finish(ModuleNamespace space, ResolvedSymbol found)
    {
        lock (space.SyncRoot)
            return space.AddressOf(space.Unique(found), LoadOptions.Default);
    }

    /// <summary>How a reference from <paramref name="module"/> to <paramref name="symbol"/> binds: every module of its
    /// scope in search order, what each defines, and the winner with its final address.</summary>
    public static BindingExplanation Explain(ModuleNamespace space, Module module, string symbol, string? version)
    {
        lock (space.SyncRoot)
        {
            var scope = module.Scope ?? new LookupScope([], module.LocalSearchList, false);
            var name = new SymbolName(System.Text.Encoding.UTF8.GetBytes(symbol));
            var request = new VersionRequest(version, false, false);
            var probes = new List<ScopeProbe>();
            ScopeProbe? provider = null;
            nint address = 0;
            for (int i = 0; i < scope.Count; i++)
            {
                var candidate = scope[i];
                int index = SymbolLookup.FindInModule(candidate, name, request);
                if (index < 0)
                {
                    probes.Add(new ScopeProbe(candidate.Info, scope.PartAt(i), false, SymbolVersion.None, default, default, 0));
                    continue;
                }
                var sym = candidate.Tables!.Symbols![index];
                var probe = new ScopeProbe(candidate.Info, scope.PartAt(i), true, candidate.Tables.GetSymbolVersion(index), sym.Binding, sym.Type, sym.Value);
                probes.Add(probe);
                if (provider is null)
                {
                    provider = probe;
                    var resolved = space.Unique(new ResolvedSymbol(candidate, index, sym));
                    // An explanation runs no code the load forbade: an IFUNC whose resolver may not run stays at 0.
                    address = resolved.IsIfunc && !resolved.Module.IsHost && !resolved.Module.ResolversAllowed
                        ? 0
                        : space.AddressOf(resolved, LoadOptions.Default);
                }
            }
            return new BindingExplanation(symbol, version, module.Info, scope.DeepBind, probes, provider, address);
        }
    }
}
