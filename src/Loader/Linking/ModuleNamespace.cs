using Loader.Mapping;

namespace Loader.Linking;

/// <summary>
/// A namespace of loaded modules, like glibc's link-map namespaces (<c>dlmopen</c>) without their limit: the modules
/// Loader mapped (by device and inode, soname and path), their reference counts and unload order, the
/// <c>STB_GNU_UNIQUE</c> definitions, the IFUNC results, and the one lock every load, lookup and unload takes.
/// <see cref="LoaderContext"/> is the public handle on one namespace; a load runs as a <see cref="LoadSession"/>
/// inside it. Host modules are the process's, and so are their <see cref="Module"/>s (<see cref="SharedHostModules"/>).
/// </summary>
internal sealed class ModuleNamespace
{
    // A context that holds one library costs little more than the library: its modules in an array of its own (no
    // list object), the tables below are values whose dictionaries are made at first use, the list of modules kept
    // for thread_local destructors is made when one is, and the lock is the namespace object's own monitor.
    private Module[] _modules = [];
    private int _moduleCount;
    private UniqueSymbolTable _uniqueSymbols;
    private IfuncResolverCache _resolverResults;
    private List<Module>? _owingThreadExits;

    // Modules a running load found to keep (they define an STB_GNU_UNIQUE symbol the load entered first): kept once
    // the load succeeds, forgotten if it fails — glibc's "pending NODELETE", so a failed load leaves nothing behind
    // that it would not leave without the failure. Made at the first; loads nest (an initializer may load).
    private List<Module>? _noDeletePending;
    private int _loadsRunning;

    /// <summary>Held for every load, lookup and unload in the namespace (re-entrant, as a load from an initializer
    /// needs).</summary>
    public object SyncRoot => this;

    /// <summary>The modules Loader mapped here, in load order.</summary>
    private ReadOnlySpan<Module> Modules => _modules.AsSpan(0, _moduleCount);

    /// <summary>Loads a file (or, when <paramref name="fromMemory"/>, <paramref name="bytes"/> under the name
    /// <paramref name="path"/>) and its dependencies; one more reference on the root.</summary>
    public Module Load(string path, ReadOnlySpan<byte> bytes, bool fromMemory, LoadOptions options)
    {
        lock (SyncRoot)
        {
            ObjectDisposedException.ThrowIf(IsDisposed, typeof(LoaderContext));
            UnmapThoseNoLongerOwed();
            int pendingBefore = _noDeletePending?.Count ?? 0;
            _loadsRunning++;
            try
            {
                var root = LoadSession.Run(this, options, path, bytes, fromMemory);
                if (options.NoDelete && !root.IsHost)
                    root.NoDelete = true; // RTLD_NODELETE marks the library opened, new or already loaded
                return root;
            }
            catch
            {
                _noDeletePending?.RemoveRange(pendingBefore, _noDeletePending.Count - pendingBefore);
                throw;
            }
            finally
            {
                _loadsRunning--;
            }
        }
    }

    /// <summary>A module of a load that failed goes: what the namespace learned of it (the unique symbols it defined,
    /// the results of its resolvers, both keyed by what the image holds) first, then its image.</summary>
    public void Discard(Module module)
    {
        _resolverResults.Forget(module);
        _uniqueSymbols.Forget(module);
        UnmapOrKeep(module);
    }

    /// <summary>
    /// Unmaps a module that is gone from the namespace — unless a thread still owes it a <c>thread_local</c>
    /// destructor (glibc calls it at that thread's exit): then it stays mapped until a later load or unload of this
    /// namespace finds the debt paid.
    /// </summary>
    public void UnmapOrKeep(Module module)
    {
        if (module.OwesThreadExits)
            (_owingThreadExits ??= []).Add(module);
        else
            module.Unmap();
    }

    /// <summary>How many modules are unloaded but still mapped for their threads' <c>thread_local</c> destructors.</summary>
    public int KeptForThreadExits
    {
        get
        {
            lock (SyncRoot)
            {
                UnmapThoseNoLongerOwed();
                return _owingThreadExits?.Count ?? 0;
            }
        }
    }

    private void UnmapThoseNoLongerOwed()
    {
        if (_owingThreadExits is null)
            return;
        for (int i = _owingThreadExits.Count - 1; i >= 0; i--)
        {
            if (_owingThreadExits[i].OwesThreadExits)
                continue;
            _owingThreadExits[i].Unmap();
            _owingThreadExits.RemoveAt(i);
        }
    }

    /// <summary>The modules Loader mapped here, in load order, with their reference counts.</summary>
    public List<LoadedLibraryState> Snapshot()
    {
        lock (SyncRoot)
        {
            var result = new List<LoadedLibraryState>(_moduleCount);
            foreach (var module in Modules)
                result.Add(new LoadedLibraryState(module.Info, module.ReferenceCount) { NoDelete = module.NoDelete });
            return result;
        }
    }

    /// <summary>The global scope of a load following <paramref name="policy"/>: the host libraries the process has,
    /// in the host's load order.</summary>
    public Module[] GlobalScope(HostLibraryPolicy policy)
    {
        lock (SyncRoot)
            return SharedHostModules.GlobalScope(policy);
    }

    /// <summary>The module mapped from the file with this device and inode (never one loaded from memory).</summary>
    public Module? FindLoaded(FileIdentity identity)
    {
        if (_keys is { } keys)
        {
            // The fields compared as they are: a record struct's == goes through EqualityComparer for each.
            for (int i = 0; i < _moduleCount; i++)
                if (keys[i].File.Inode == identity.Inode && keys[i].File.Device == identity.Device && keys[i].FromFile)
                    return _modules[i];
            return null;
        }
        foreach (var m in Modules)
            if (!m.Image!.IsFromMemory && m.File == identity)
                return m;
        return null;
    }

    /// <summary>The module this namespace mapped from a file at <paramref name="path"/>, the path as it was given.</summary>
    public Module? FindLoadedPath(string path)
    {
        if (_keys is { } keys)
        {
            int hash = path.GetHashCode();
            for (int i = 0; i < _moduleCount; i++)
                if (keys[i].PathHash == hash && keys[i].FromFile && _modules[i].Path == path)
                    return _modules[i];
            return null;
        }
        foreach (var m in Modules)
            if (!m.Image!.IsFromMemory && m.Path == path)
                return m;
        return null;
    }

    // From this many modules on, each module's file, the hashes of its path and soname, and whether it was mapped from
    // a file are also kept in an array beside the modules (the same indices): a load asks by path and by file for its
    // root and each dependency it maps, and by soname for each DT_NEEDED, and in a context holding hundreds of libraries
    // (a plugin host's) a scan of the modules themselves reads three objects of each, scattered over the heap; this is
    // one array read in order, 32 bytes a module. Below, the scan costs less than the array.
    private const int KeyedFrom = 32;
    private ModuleKey[]? _keys;

    private readonly record struct ModuleKey(FileIdentity File, int PathHash, int SoNameHash, bool FromFile)
    {
        public static ModuleKey Of(Module module) =>
            new(module.File, module.Path.GetHashCode(), module.SoName?.GetHashCode() ?? 0, module.Image is { IsFromMemory: false });
    }

    /// <summary>The module whose DT_SONAME or path is <paramref name="soNameOrPath"/>.</summary>
    public Module? FindLoaded(string soNameOrPath)
    {
        if (_keys is { } keys)
        {
            int hash = soNameOrPath.GetHashCode();
            for (int i = 0; i < _moduleCount; i++)
            {
                if ((keys[i].SoNameHash == hash && _modules[i].SoName == soNameOrPath)
                    || (keys[i].PathHash == hash && _modules[i].Path == soNameOrPath))
                    return _modules[i];
            }
            return null;
        }
        foreach (var m in Modules)
            if (m.SoName == soNameOrPath || m.Path == soNameOrPath)
                return m;
        return null;
    }

    /// <summary>The modules a load mapped join the namespace once the load succeeded; those marked
    /// <c>DF_1_NODELETE</c>, and those the load found to keep (<see cref="Unique"/>), are kept from now on.</summary>
    public void Commit(List<Module> modules)
    {
        if (_moduleCount + modules.Count > _modules.Length)
            Array.Resize(ref _modules, Math.Max(_moduleCount + modules.Count, _modules.Length * 2));
        modules.CopyTo(_modules, _moduleCount);
        _moduleCount += modules.Count;
        int keyFrom = _moduleCount - modules.Count;
        if (_keys is null && _moduleCount >= KeyedFrom)
            (_keys, keyFrom) = (new ModuleKey[_modules.Length], 0);
        else if (_keys is not null && _keys.Length < _modules.Length)
            Array.Resize(ref _keys, _modules.Length);
        if (_keys is not null)
            for (int i = keyFrom; i < _moduleCount; i++)
                _keys[i] = ModuleKey.Of(_modules[i]);
        foreach (var module in modules)
        {
            module.LoadSequence = unchecked(++_lastSequence);
            if ((module.Tables?.Dynamic.Flags1 & Elf.DynamicFlags1.NoDelete) != 0)
                module.NoDelete = true;
        }
        // As glibc activates every pending mark of the namespace when a dlopen succeeds (an enclosing load's too).
        if (_noDeletePending is { Count: > 0 } pending)
        {
            foreach (var module in pending)
                module.NoDelete = true;
            pending.Clear();
        }
    }

    /// <summary>Takes <paramref name="module"/> out of the load order, the others keeping theirs.</summary>
    private void Remove(Module module)
    {
        int index = Module.IndexIn(_modules.AsSpan(0, _moduleCount), module);
        if (index < 0)
            return;
        Array.Copy(_modules, index + 1, _modules, index, _moduleCount - index - 1);
        if (_keys is not null)
            Array.Copy(_keys, index + 1, _keys, index, _moduleCount - index - 1);
        _modules[--_moduleCount] = null!;
    }

    /// <summary>
    /// The final step of every lookup — relocation, <c>GetExport</c>, <c>bind</c> — before the address is used: an
    /// <c>STB_GNU_UNIQUE</c> definition becomes the first one the namespace met for that name.
    /// </summary>
    /// <remarks>The module whose definition is entered first is kept loaded (glibc marks it NODELETE: every later
    /// lookup of the name, from any library, gets that copy): at once outside a load, when the load succeeds inside one.</remarks>
    public ResolvedSymbol Unique(ResolvedSymbol found)
    {
        if (found.Symbol.Binding != Elf.SymbolBinding.GnuUnique)
            return found;
        var first = _uniqueSymbols.Intern(found.Module.Tables!.Symbols!.GetNameBytes(found.Index), found, out bool entered);
        if (entered && !found.Module.IsHost && !found.Module.NoDelete)
        {
            if (_loadsRunning > 0)
                (_noDeletePending ??= []).Add(found.Module);
            else
                found.Module.NoDelete = true;
        }
        return first;
    }

    /// <summary>
    /// The address a resolved definition stands for: its address, or for an <c>STT_GNU_IFUNC</c> the result of its
    /// resolver (run once per namespace; <see cref="IfuncResolverCache"/>).
    /// </summary>
    /// <exception cref="RelocationException">The resolver may not run (<see cref="LoadOptions.RunResolvers"/>), or lies outside executable code.</exception>
    public nint AddressOf(ResolvedSymbol found, LoadOptions options)
    {
        if (!found.IsIfunc)
            return (nint)found.Address;
        // A resolver that has run answers without its symbol being named: a lookup of an IFUNC (libc's strlen)
        // allocates nothing once its resolver has run.
        return _resolverResults.TryGetResult((nint)found.Address, out nint known)
            ? known
            : RunResolver(found.Module, (nint)found.Address, ResolverUse.Symbol(found.Module.Tables!.Symbols!, found.Index), options);
    }

    /// <summary>The result of the resolver at <paramref name="resolver"/> when it has run already (in this namespace,
    /// or for a host library's, in the process).</summary>
    public bool TryGetResolverResult(nint resolver, out nint result) => _resolverResults.TryGetResult(resolver, out result);

    /// <summary>The result of the resolver at <paramref name="resolver"/> in <paramref name="owner"/>, run the first time:
    /// for an IFUNC symbol (<see cref="AddressOf"/>'s second half, and the relocator's once every other relocation is
    /// done) or an <c>R_X86_64_IRELATIVE</c> entry, which names a resolver, not a symbol.</summary>
    public nint RunResolver(Module owner, nint resolver, in ResolverUse what, LoadOptions options) =>
        _resolverResults.Run(owner, resolver, what, options);

    /// <summary>
    /// Drops one handle on <paramref name="module"/>, then unloads every module no handle and no kept module
    /// (<see cref="Module.NoDelete"/>) reaches any more through DT_NEEDED edges — as glibc's <c>dlclose</c> marks what
    /// is still used and collects the rest, so a DT_NEEDED cycle (a library that needs itself, two that need each
    /// other) goes too. Finalizers run first, dependents before
    /// dependencies; then the images are unmapped (or kept while a thread owes one a <c>thread_local</c> destructor).
    /// </summary>
    /// <exception cref="LoaderException">A finalizer could not be run (the library changed its own table after the
    /// load checked it). Thrown after the unload has finished: nothing stays listed or mapped because of it.</exception>
    public void Release(Module module)
    {
        lock (SyncRoot)
        {
            if (IsDisposed || module.IsHost || module.Handles <= 0)
                return;
            module.Handles--;
            module.ReferenceCount--;
            Collect(module);
        }
    }

    /// <summary>True once <see cref="UnloadAll"/> ran: the namespace loads nothing more.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>
    /// Unloads everything the namespace holds, whatever handles remain (they become dead handles) and kept modules
    /// too — the namespace's end is to its modules what a process's exit is to glibc's: their finalizers run —
    /// dependents before dependencies, and refuses any later load. Idempotent.
    /// </summary>
    /// <exception cref="LoaderException">A finalizer could not be run; thrown after everything was unloaded.</exception>
    public void UnloadAll()
    {
        lock (SyncRoot)
        {
            if (IsDisposed)
                return;
            IsDisposed = true;
            foreach (var m in Modules)
            {
                m.ReferenceCount -= m.Handles;
                m.Handles = 0;
            }
            Collect(released: null);
        }
    }

    /// <summary>Unloads every module no handle reaches — after a release of <paramref name="released"/>, of the modules
    /// it reaches; all, when null: finalizers first, then bookkeeping and unmapping, whatever a finalizer reports (its
    /// failure is thrown at the end).</summary>
    private void Collect(Module? released)
    {
        var dead = released is null ? Unreachable() : UnreachableAfterRelease(released);
        try
        {
            foreach (var m in dead)
            {
                foreach (var dependency in m.Needed)
                    if (!dependency.IsHost)
                        dependency.ReferenceCount--; // the edge goes with its module
                foreach (var definer in m.RelocationDependencies)
                    definer.ReferenceCount--;
            }
            LoaderException? failure = null;
            foreach (var m in dead)
            {
                if (!m.Initialized || m.Finalized)
                    continue;
                m.Finalized = true;
                try
                {
                    Initializers.RunFinalizers(m);
                }
                catch (LoaderException e)
                {
                    failure ??= e;
                }
            }
            foreach (var m in dead)
            {
                Remove(m);
                _resolverResults.Forget(m);
                _uniqueSymbols.Forget(m);
                UnmapOrKeep(m);
            }
            UnmapThoseNoLongerOwed();
            if (failure is not null)
                throw failure;
        }
        finally
        {
            dead.Clear();
            t_spareOrder = dead; // for the next collection on this thread
        }
    }

    // Each collection's three marks (a module reached from a handle, a module placed in the unload order, a candidate
    // of a collection after one release), and the lists of the dead and of the candidates, cleared, kept between
    // collections on the thread: a collection allocates nothing of its own.
    private int _lastMark;
    private long _lastSequence;

    [ThreadStatic]
    private static List<Module>? t_spareOrder, t_spareCandidates;

    /// <summary>
    /// <see cref="Unreachable"/>'s answer after one handle on <paramref name="released"/> was given back, found among
    /// the modules it reaches alone: every other module was reached from a handle before the release (each release and
    /// each failed load leave nothing unreachable behind) and still is, so only these candidates can have lost their
    /// last path from one. A candidate stays when it has a handle, is kept (NODELETE, or pending), or a module outside
    /// the candidates still points at it — its count (handles plus incoming DT_NEEDED edges and relocation
    /// dependencies) exceeds its handles plus the candidates' edges into it — and so does what it reaches. The dead are ordered as <see cref="Unreachable"/>
    /// orders them: post-order walks started from each in load order, reversed. A context holding many libraries
    /// (a plugin host's) then pays for an unload what the unloaded library's tree holds, not what the context holds.
    /// </summary>
    private List<Module> UnreachableAfterRelease(Module released)
    {
        int live = unchecked(_lastMark += 3), placed = unchecked(live + 1), candidate = unchecked(live + 2);
        var candidates = t_spareCandidates ?? [];
        t_spareCandidates = null;
        var order = t_spareOrder ?? [];
        t_spareOrder = null;
        try
        {
            Gather(released, candidate, candidates);
            foreach (var m in candidates)
                m.CollectionEdges = 0;
            foreach (var m in candidates)
            {
                foreach (var dependency in m.Needed)
                    if (dependency.CollectionMark == candidate && !dependency.IsHost)
                        dependency.CollectionEdges++;
                foreach (var definer in m.RelocationDependencies)
                    if (definer.CollectionMark == candidate)
                        definer.CollectionEdges++;
            }
            foreach (var m in candidates)
                if (m.Handles > 0 || (m.NoDelete && !IsDisposed) || m.ReferenceCount - m.Handles > m.CollectionEdges)
                    MarkLive(m, live);
            if (!IsDisposed && _noDeletePending is { } pending)
                foreach (var m in pending)
                    if (m.CollectionMark == candidate)
                        MarkLive(m, live);
            candidates.Sort(static (a, b) => a.LoadSequence.CompareTo(b.LoadSequence));
            foreach (var m in candidates)
                PostOrder(m, live, placed, order);
            order.Reverse();
            return order;
        }
        finally
        {
            candidates.Clear();
            t_spareCandidates = candidates;
        }
    }

    private static void Gather(Module module, int candidate, List<Module> candidates)
    {
        if (module.IsHost || module.CollectionMark == candidate)
            return;
        module.CollectionMark = candidate;
        candidates.Add(module);
        foreach (var dependency in module.Needed)
            Gather(dependency, candidate, candidates);
        foreach (var definer in module.RelocationDependencies)
            Gather(definer, candidate, candidates);
    }

    /// <summary>The modules no handle reaches through DT_NEEDED edges and relocation dependencies
    /// (<see cref="Module.RelocationDependencies"/>), dependents before dependencies (a cycle in any order): the
    /// reverse of a depth-first post-order over the edges.</summary>
    private List<Module> Unreachable()
    {
        int live = unchecked(_lastMark += 3), placed = unchecked(live + 1);
        // A kept module (and what it needs) stays until the namespace itself is disposed; so does one a running load
        // found to keep, should a finalizer or an initializer unload something meanwhile.
        foreach (var m in Modules)
            if (m.Handles > 0 || (m.NoDelete && !IsDisposed))
                MarkLive(m, live);
        if (!IsDisposed && _noDeletePending is { } pending)
            foreach (var m in pending)
                MarkLive(m, live);
        // Taken out of the slot while in use: a finalizer may unload something itself, and collect meanwhile.
        var order = t_spareOrder ?? [];
        t_spareOrder = null;
        foreach (var m in Modules)
            PostOrder(m, live, placed, order);
        order.Reverse();
        return order;
    }

    private static void MarkLive(Module module, int live)
    {
        if (module.IsHost || module.CollectionMark == live)
            return;
        module.CollectionMark = live;
        foreach (var dependency in module.Needed)
            MarkLive(dependency, live);
        foreach (var definer in module.RelocationDependencies)
            MarkLive(definer, live);
    }

    private static void PostOrder(Module module, int live, int placed, List<Module> order)
    {
        if (module.IsHost || module.CollectionMark == live || module.CollectionMark == placed)
            return;
        module.CollectionMark = placed;
        foreach (var dependency in module.Needed)
            PostOrder(dependency, live, placed, order);
        foreach (var definer in module.RelocationDependencies)
            PostOrder(definer, live, placed, order);
        order.Add(module);
    }
}
