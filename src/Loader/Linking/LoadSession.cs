using Loader.Mapping;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// One load into a <see cref="ModuleNamespace"/>: finds or maps the library, then its DT_NEEDED tree breadth-first
/// (each entry searched with <see cref="LibrarySearch"/>, reused when the namespace already has it, or taken from the
/// host as <see cref="HostLibraryPolicy"/> says), builds the scope, relocates the new modules, protects their RELRO
/// and runs their initializers, dependencies first. On failure it unmaps what it mapped and gives back the
/// references it took, so the namespace and the address space are as before. Runs under the namespace's lock.
/// </summary>
/// <remarks>
/// A session and its lists wait between loads in their thread's slot (<see cref="Run"/>), cleared, so a load makes
/// none of them: only what the loaded modules keep.
/// </remarks>
internal sealed class LoadSession : IMappedFileCheck
{
    private ModuleNamespace _namespace = null!;
    private LoadOptions _options = null!;
    private LibrarySearch? _search; // made when a name is first searched for: most loads take only host libraries
    private HostLibraryPolicy _hosts = null!;
    private readonly List<Module> _new = [];
    private readonly List<Module> _referenced = [];
    private readonly List<Module> _local = []; // the local scope, breadth-first; then the initializers' "visited"

    [ThreadStatic]
    private static LoadSession? t_spare;

    /// <summary>Loads into <paramref name="space"/> (see <see cref="Load"/>) with the thread's waiting session, or a
    /// new one when a load on this thread is already running (an initializer's or a resolver's own load).</summary>
    public static Module Run(ModuleNamespace space, LoadOptions options, string path, ReadOnlySpan<byte> bytes, bool fromMemory)
    {
        var session = t_spare ?? new LoadSession();
        t_spare = null;
        try
        {
            options.CheckRelroSharing();
            session._namespace = space;
            session._options = options;
            session._hosts = HostLibraryPolicy.For(options);
            return session.Load(path, bytes, fromMemory);
        }
        finally
        {
            session._namespace = null!;
            session._options = null!;
            session._hosts = null!;
            session._search = null;
            session._alreadyLoaded = null;
            session._new.Clear();
            session._referenced.Clear();
            session._local.Clear();
            t_spare = session;
        }
    }

    private LoadSession()
    {
    }

    /// <summary>
    /// Loads the file at <paramref name="path"/> (or, with <paramref name="bytes"/>, an image from memory), as
    /// bionic's <c>ElfReader::Load</c> reads: find or map the root, then link what is new (dependencies, scope,
    /// relocation, RELRO, initializers), then commit it to the namespace.
    /// </summary>
    private Module Load(string path, ReadOnlySpan<byte> bytes, bool fromMemory)
    {
        try
        {
            var root = fromMemory ? Adopt(ElfImage.Map(bytes, path, _options.ToMapOptions(root: true)), loadedBy: null)
                : path.Contains('/') ? FindOrMap(path, requireHostName: false, loadedBy: null).Module
                : FindOrSearch(path);
            Take(root);
            if (_new.Count > 0)
                Link(root);
            else if (_options.RunInitializers)
                Initialize(root, _local); // loaded before without running initializers: run them now
            _namespace.Commit(_new);
            foreach (var module in _new)
                module.ForgetRequester();
            if (!root.IsHost)
                root.Handles++; // the handle the caller gets: what keeps the root (and what it needs) loaded
            return root;
        }
        catch
        {
            RollBack();
            throw;
        }
    }

    /// <summary>
    /// <c>dlopen</c>'s rule for a name without a '/': a host library's name is the host's copy, a soname the namespace
    /// already has is that module; anything else is searched for as the program's own DT_NEEDED would be
    /// (<see cref="LibrarySearch"/> without a requester: <c>LD_LIBRARY_PATH</c>, <see cref="LoadOptions.SearchPaths"/>,
    /// <c>/etc/ld.so.cache</c>, the default directories), and the file found is then loaded as a path is.
    /// </summary>
    /// <exception cref="LibraryNotFoundException">No place yields the library; every place tried is listed.</exception>
    private Module FindOrSearch(string name)
    {
        if (_hosts.IsHostLibrary(name))
            return HostFor(name);
        if (_namespace.FindLoaded(name) is { } loaded)
            return loaded;
        var attempts = new List<SearchAttempt>();
        string path = Search.Find(name, requester: null, attempts, out var opened)
            ?? ThrowHelper.LibraryNotFound<string>(name, null, attempts);
        return FindOrMap(path, requireHostName: false, loadedBy: null, opened).Module;
    }

    /// <summary>
    /// The module for the file at <paramref name="path"/>: a path a name already stands for (the host's library by
    /// name, unless <paramref name="requireHostName"/>; a file this namespace mapped from this very path, as glibc
    /// matches a request against its link maps' names before opening anything), else the file mapped now — unless,
    /// once the mapper has identified it (its one fstat), it is a file the namespace already has (the host's copy of a
    /// host library, or a library this namespace loaded, by device and inode), and the mapping is rolled back. The
    /// file is opened once, as glibc's <c>_dl_map_object_from_fd</c> does: a file a search found is mapped from the
    /// descriptor and the page the search opened and read (<paramref name="opened"/>, disposed here when not mapped).
    /// Mapped is true for a new image.
    /// </summary>
    private (Module Module, bool Mapped) FindOrMap(string path, bool requireHostName, LibraryRequester? loadedBy,
        OpenedCandidate? opened = null)
    {
        using (opened)
        {
            if (!requireHostName && _hosts.IsHostLibrary(path))
                return (HostForPath(path), false);
            if ((_namespace.FindLoadedPath(path) ?? FindNewPath(path)) is { } samePath)
                return (samePath, false);
            var options = _options.ToMapOptions(root: loadedBy is null);
            FirstPage? firstPage = null;
            FileDescriptor? fd;
            if (opened is not null)
                (fd, firstPage) = opened.Take();
            else if ((fd = FileDescriptor.OpenReadOnly(path, out _)) is null)
                return (Adopt(ElfImage.Map(path, options), loadedBy), true); // not opened: the mapper opens it again and says why it cannot
            _alreadyLoaded = null;
            return Mapper.MapOpened(fd, path, options, this, firstPage) is { } image
                ? (Adopt(image, loadedBy), true)
                : (_alreadyLoaded!, false);
        }
    }

    // What IsAlreadyLoaded found, for FindOrMap (one mapping at a time per session).
    private Module? _alreadyLoaded;

    bool IMappedFileCheck.IsAlreadyLoaded(FileIdentity file)
    {
        if (HostModules.FindByFile(file.Device, file.Inode) is { } host && _hosts.IsHostLibrary(host))
            _alreadyLoaded = SharedHostModules.Get(host);
        else
            _alreadyLoaded = _namespace.FindLoaded(file) ?? FindNew(file);
        return _alreadyLoaded is not null;
    }

    private Module? FindNewPath(string path)
    {
        foreach (var m in _new)
            if (!m.Image!.IsFromMemory && m.Path == path)
                return m;
        return null;
    }

    private Module? FindNew(FileIdentity identity)
    {
        foreach (var m in _new)
            if (m.File == identity)
                return m;
        return null;
    }

    /// <summary>A mapped image becomes a module — unless its DT_SONAME says it is a host library, whose copy is used.</summary>
    private Module Adopt(ElfImage image, LibraryRequester? loadedBy)
    {
        try
        {
            // An empty DT_SONAME names nothing (glibc matches no request against it).
            if (image.SoName is { Length: > 0 } soname && _hosts.IsHostLibrary(soname))
            {
                image.Dispose();
                return HostFor(soname);
            }
            var module = Module.ForImage(image, loadedBy);
            module.ResolversAllowed = _options.RunResolvers;
            _new.Add(module);
            DebuggerView.Add(module); // listed from mapping on, so constructors can be debugged; Unmap unlists it
            return module;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    private LibrarySearch Search => _search ??= new LibrarySearch(_options.SearchPaths, _options.LdLibraryPath);

    private Module HostFor(string nameOrPath) => SharedHostModules.Get(HostLibraryPolicy.Get(nameOrPath, "a host library"));

    /// <summary>
    /// A path whose file name is a host library's: the host's module for that very file when it has it, else — when
    /// the path is a regular file — the host's library of that name, as a DT_SONAME or DT_NEEDED naming it gets: a
    /// process keeps one copy of each (a second libc does not work, and every other file the system loader took on
    /// our behalf would stay loaded for the process's life). Only when the host has none, or the path is no file, the
    /// system loader loads the path (or says why it cannot). A path named in <see cref="LoadOptions.HostLibraries"/>
    /// is always that file.
    /// </summary>
    private Module HostForPath(string path)
    {
        var host = HostModules.FindLoaded(path)
            ?? (!_hosts.NamesPath(path) && IsRegularFile(path) ? HostModules.FindLoaded(Path.GetFileName(path)) : null);
        return host is not null ? SharedHostModules.Get(host) : HostFor(path);
    }

    private static bool IsRegularFile(string path)
    {
        using var fd = FileDescriptor.OpenReadOnly(path, out _);
        return fd is not null && fd.TryGetStatus(out var status, out _) && status.IsRegularFile;
    }

    /// <summary>Dependencies breadth-first, then scope, relocation and RELRO, then initializers.</summary>
    private void Link(Module root)
    {
        var local = LoadDependencies(root);
        AssignScope(local);
        RelocateAndProtect(local);
        if (_options.RunInitializers)
        {
            local.Clear(); // the scope has its own copy: the list serves as the walk's "visited"
            Initialize(root, local);
        }
    }

    /// <summary>The root's DT_NEEDED tree breadth-first, each module once: the local scope. The new modules'
    /// entries are resolved (found, reused or mapped) on the way.</summary>
    private List<Module> LoadDependencies(Module root)
    {
        // Breadth-first (an edge's depth is computed when the edges are asked for, per tree). A tree has a few modules
        // (hundreds at most), so "seen" is the list itself rather than a set made for each load.
        var local = _local;
        local.Add(root);
        for (int next = 0; next < local.Count; next++)
        {
            var module = local[next];
            if (module.IsHost)
                continue; // the host's own dependencies are the host's business
            if (Module.IsIn(_new, module))
                ResolveNeeded(module);
            foreach (var dependency in module.Needed)
            {
                if (!Module.IsIn(local, dependency))
                    local.Add(dependency);
            }
        }
        return local;
    }

    /// <summary>As in glibc's <c>dl_open_worker</c>, every module new in this load relocates against the root's scope.</summary>
    private void AssignScope(List<Module> local)
    {
        var scope = new LookupScope(_namespace.GlobalScope(_hosts), local, _options.DeepBind,
            filterGlobal: ReferenceEquals(_hosts, HostLibraryPolicy.Default));
        foreach (var module in _new)
            module.Scope = scope;
    }

    /// <summary>Dependencies before dependents (glibc relocates in reverse search-list order), so a resolver in a
    /// dependency runs on a relocated image; each image's RELRO is made read-only right after its relocation.</summary>
    private void RelocateAndProtect(List<Module> local)
    {
        for (int i = local.Count - 1; i >= 0; i--)
        {
            var module = local[i];
            if (module.IsHost || module.Relocated || !Module.IsIn(_new, module))
                continue;
            Relocator.Relocate(module, _namespace, _options, ref _definers);
            if (_definers is { Count: > 0 })
                AddRelocationDependencies(module, _definers);
            module.Image!.EndRelocation(); // before RELRO: nothing is left to take out of the writable ranges
            Initializers.CheckFinalizers(module);
            module.Image.ApplyRelro();
            if (i == 0)
                Mapping.RelroSharing.Apply(module.Image, _options); // the root only, as bionic shares the library asked for
            module.Relocated = true;
            if (_options.RegisterUnwindTables)
                UnwindRegistry.Register(module); // before any initializer: a constructor may throw and catch
        }
    }

    /// <summary>
    /// As glibc's <c>add_dependency</c> (<c>l_reldeps</c>): each module the relocations of <paramref name="module"/>
    /// bound to (<paramref name="definers"/>, from the relocator) that its DT_NEEDED tree does not hold becomes an edge of
    /// its own, counted in the definer's references like a DT_NEEDED edge (and given back with them if the load fails):
    /// a dependency whose reference a library of the tree interposes keeps that library loaded while it is.
    /// </summary>
    private void AddRelocationDependencies(Module module, List<Module> definers)
    {
        foreach (var definer in definers)
        {
            if (Module.IsIn(module.RelocationDependencies, definer) || InTree(module, definer))
                continue;
            module.AddRelocationDependency(definer);
            Take(definer);
        }
        definers.Clear();
    }

    /// <summary>Whether <paramref name="module"/> is <paramref name="root"/> or in its DT_NEEDED tree.</summary>
    private bool InTree(Module root, Module module)
    {
        var tree = _treeWalk ??= [];
        root.AppendTree(tree);
        bool found = Module.IsIn(tree, module);
        tree.Clear();
        return found;
    }

    // The modules a relocation bound to outside the host (filled by Relocator.Relocate), and InTree's walk: made when a
    // module first needs them (most bind only to themselves and the host), then kept for the session.
    private List<Module>? _definers;
    private List<Module>? _treeWalk;

    /// <summary>Each DT_NEEDED of a new module: host library, module already loaded, or found and mapped now.</summary>
    private void ResolveNeeded(Module module)
    {
        var entries = module.Tables?.Needed ?? [];
        for (int i = 0; i < entries.Count; i++) // by index: an interface's foreach would box its enumerator
        {
            string needed = entries[i];
            if (needed.Length == 0)
                ThrowHelper.Format(module.Path, "DT_NEEDED", module.Image!.Dynamic!.Address, "names the empty string: there is no library to look for");
            List<SearchAttempt>? attempts = null; // only a search has attempts to keep (for `loader deps` and `trace`)
            DependencySource source;
            Module? dependency;
            if (_hosts.IsHostLibrary(needed))
            {
                dependency = HostFor(needed);
                source = DependencySource.Host;
            }
            else if (FindBySoName(needed) is { } bySoName)
            {
                dependency = bySoName;
                source = DependencySource.Reused;
            }
            else
            {
                attempts = [];
                string path = Search.Find(needed, module.Requester, attempts, out var opened)
                    ?? ThrowHelper.LibraryNotFound<string>(needed, module.Path, attempts);
                (dependency, bool mapped) = FindOrMap(path, requireHostName: true, module.Requester, opened);
                source = dependency.IsHost ? DependencySource.Host
                    : mapped || Module.IsIn(_new, dependency) ? DependencySource.Loaded
                    : DependencySource.Reused;
            }
            module.AddNeeded(dependency, needed, source, attempts?.ToArray());
            Take(dependency);
        }
    }

    private Module? FindBySoName(string needed)
    {
        foreach (var m in _new)
            if (m.SoName == needed || m.Path == needed)
                return m;
        return _namespace.FindLoaded(needed);
    }

    /// <summary>Depth-first, dependencies first: each module not yet initialized runs DT_INIT and DT_INIT_ARRAY.</summary>
    private void Initialize(Module module, List<Module> visited)
    {
        if (module.IsHost || Module.IsIn(visited, module))
            return; // a list, as for the breadth-first walk: a tree has few modules
        visited.Add(module);
        foreach (var dependency in module.Needed)
            Initialize(dependency, visited);
        if (module.Initialized)
            return;
        module.Initialized = true; // set first: an initializer that loads its own library again must not recurse
        Initializers.RunInitializers(module);
    }

    private void Take(Module module)
    {
        if (module.IsHost)
            return;
        module.ReferenceCount++;
        if (!Module.IsIn(_new, module))
            _referenced.Add(module);
    }

    private void RollBack()
    {
        foreach (var module in _referenced)
            module.ReferenceCount--;
        foreach (var module in _new)
            _namespace.Discard(module);
    }
}
