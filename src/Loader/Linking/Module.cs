using System.Runtime.InteropServices;
using Loader.Elf;
using Loader.Mapping;

namespace Loader.Linking;

/// <summary>
/// One module of a <see cref="ModuleNamespace"/>: an image Loader mapped (with its dependencies, relocation scope,
/// reference count and life-cycle state) or a host library (tables read in place, never unloaded). Mutated only
/// under the namespace's lock.
/// </summary>
internal sealed class Module
{
    private Module(DynamicTables? tables, ElfImage? image, HostModule? host)
    {
        Tables = tables;
        Image = image;
        Host = host;
    }

    /// <summary>A module mapped by Loader.</summary>
    public static Module ForImage(ElfImage image, LibraryRequester? loadedBy)
    {
        var tables = image.Tables;
        int needed = tables?.NeededCount ?? 0; // the edges' lists are sized once: a module keeps them as long as it lives
        var module = new Module(tables, image, null)
        {
            _edges = needed == 0 ? NoEdges : new NeededEdge[needed],
        };
        var dyn = image.Dynamic;
        module.Symbolic = dyn is not null && (dyn.Has(DynamicTag.Symbolic) || (dyn.Flags & DynamicFlags.Symbolic) != 0);
        module._loadedBy = loadedBy;
        module._searchesPending = true;
        return module;
    }

    /// <summary>
    /// Where <paramref name="module"/> is in <paramref name="modules"/>, by reference, or -1. Instead of
    /// <c>List.Contains</c>, <c>Array.IndexOf</c> and a span's <c>Contains</c>: each asks for
    /// <c>EqualityComparer&lt;Module&gt;.Default</c>, which the runtime makes by reflection on a process's first load
    /// (a generic type made at run time, and a factory method the JIT compiles).
    /// </summary>
    internal static int IndexIn(ReadOnlySpan<Module> modules, Module module)
    {
        for (int i = 0; i < modules.Length; i++)
        {
            if (ReferenceEquals(modules[i], module))
                return i;
        }
        return -1;
    }

    /// <summary>Whether <paramref name="module"/> is in <paramref name="modules"/>, by reference (<see cref="IndexIn"/>).</summary>
    internal static bool IsIn(ReadOnlySpan<Module> modules, Module module) => IndexIn(modules, module) >= 0;

    /// <summary>Whether <paramref name="module"/> is in <paramref name="modules"/>, by reference (<see cref="IndexIn"/>).</summary>
    internal static bool IsIn(List<Module> modules, Module module) => IndexIn(CollectionsMarshal.AsSpan(modules), module) >= 0;

    /// <summary>A host library, as this context sees it.</summary>
    public static Module ForHost(HostModule host) =>
        new(host.Tables, null, host)
        {
            _edges = host.Tables.NeededCount is var count and > 0 ? new NeededEdge[count] : NoEdges,
        };

    /// <summary>What the public API shows of it, made when asked (a module keeps what it wraps, not a copy).</summary>
    public ModuleInfo Info => new(Path, SoName, Base, IsHost ? ModuleOrigin.Host : ModuleOrigin.Loaded);
    public string Path => Image?.Path ?? Host!.Path;
    public string? SoName => Image is { } image ? image.SoName : Host!.SoName;
    public string Name => SoName ?? System.IO.Path.GetFileName(Path);
    public nint Base => Image?.BaseAddress ?? Host!.Base;
    public bool IsHost => Host is not null;
    public DynamicTables? Tables { get; }
    public ElfImage? Image { get; }
    public HostModule? Host { get; }
    /// <summary>The device and inode of its file (the image's, or the host library's): said by what it wraps.</summary>
    public FileIdentity File => Image?.File ?? new FileIdentity(Host!.Device, Host.Inode);

    /// <summary>DT_SYMBOLIC (or DF_SYMBOLIC): the library's own definitions come first for its own references.</summary>
    public bool Symbolic { get; private set; }

    /// <summary>What <see cref="LibrarySearch"/> needs to find this module's DT_NEEDED entries: only the load that maps
    /// the module searches them, so it is dropped when that load ends (<see cref="ForgetRequester"/>). Made when first
    /// asked for: a module whose entries are all host libraries or already loaded searches nothing.</summary>
    public LibraryRequester? Requester => _searchesPending
        ? _requester ??= new LibraryRequester(System.IO.Path.GetFullPath(Image!.Path), Tables?.RunPath, Tables?.RPath, _loadedBy)
        : null;

    private LibraryRequester? _requester;
    private LibraryRequester? _loadedBy;
    private bool _searchesPending;

    /// <summary>Its DT_NEEDED entries are resolved: what searched for them is not kept for as long as it is loaded.</summary>
    public void ForgetRequester()
    {
        _searchesPending = false;
        _requester = null;
        _loadedBy = null;
    }

    /// <summary>Its TLS block, served by Loader or by glibc through a carrier (null without PT_TLS, and for a host module).</summary>
    public TlsBlockOwner? Tls
    {
        get => _threadState?.Tls;
        set { if (value is not null || _threadState is not null) (_threadState ??= new()).Tls = value; }
    }

    /// <summary>The <c>thread_local</c> destructors it registered and that have not run yet (null: it registers none).</summary>
    public Native.ThreadExitTracker? ThreadExits
    {
        get => _threadState?.ThreadExits;
        set { if (value is not null || _threadState is not null) (_threadState ??= new()).ThreadExits = value; }
    }

    /// <summary>True while a thread still owes it a <c>thread_local</c> destructor: it must stay mapped.</summary>
    public bool OwesThreadExits => ThreadExits is { Pending: > 0 };

    /// <summary>The <c>tls_index</c>es its dynamic TLSDESC descriptors point at (null when it has none).</summary>
    public Native.TlsIndexTable? TlsIndexes
    {
        get => _threadState?.TlsIndexes;
        set { if (value is not null || _threadState is not null) (_threadState ??= new()).TlsIndexes = value; }
    }

    // What only a module with thread-local storage or thread_local destructors has, in an object of its own made when
    // the first of it is set: most modules have none, and a module lives as long as its library is loaded.
    private PerThreadState? _threadState;

    private sealed class PerThreadState
    {
        public TlsBlockOwner? Tls;
        public Native.ThreadExitTracker? ThreadExits;
        public Native.TlsIndexTable? TlsIndexes;
    }

    /// <summary>The modules that satisfy its DT_NEEDED entries, in order (one per entry): a view of its edges. Added
    /// to with <see cref="AddNeeded"/> only.</summary>
    public NeededModules Needed => new(_edges, _neededCount);

    // Its DT_NEEDED edges, in order: the module that satisfies each, and how (the rest of a LibraryDependency is the
    // two modules', so the records are made when asked for, by DependencyEdges, not kept while the module is loaded).
    private NeededEdge[] _edges = NoEdges;

    // Ours, not Array.Empty: the runtime makes EmptyArray<T> of a type of ours with JIT-compiled code on a first load.
    private static readonly NeededEdge[] NoEdges = new NeededEdge[0];
    private int _neededCount;

    internal readonly record struct NeededEdge(Module Module, string Name, DependencySource Source, SearchAttempt[]? Attempts);

    /// <summary>One more DT_NEEDED entry satisfied: <paramref name="name"/> by <paramref name="dependency"/>, found as
    /// <paramref name="source"/> says, with the places a search tried (null when nothing was searched for).</summary>
    public void AddNeeded(Module dependency, string name, DependencySource source, SearchAttempt[]? attempts)
    {
        if (_neededCount == _edges.Length)
            Array.Resize(ref _edges, Math.Max(4, _edges.Length * 2));
        _edges[_neededCount++] = new NeededEdge(dependency, name, source, attempts);
    }

    /// <summary>
    /// The modules its relocations bound to that its DT_NEEDED tree does not hold (glibc's <c>l_reldeps</c>): a library
    /// of the tree it was loaded in, as a dependency whose reference the root's own definition interposes. Each keeps
    /// its definer loaded as a DT_NEEDED edge would, so an unload never leaves a pointer into unmapped memory behind.
    /// </summary>
    public ReadOnlySpan<Module> RelocationDependencies => new(_relocationDependencies, 0, _relocationDependencyCount);

    // Null until the first: most modules bind only to themselves, their dependencies and the host.
    private Module[]? _relocationDependencies;
    private int _relocationDependencyCount;

    /// <summary>One more module its relocations bound to outside its DT_NEEDED tree (the caller checked that).</summary>
    public void AddRelocationDependency(Module definer)
    {
        _relocationDependencies ??= new Module[2];
        if (_relocationDependencyCount == _relocationDependencies.Length)
            Array.Resize(ref _relocationDependencies, _relocationDependencies.Length * 2);
        _relocationDependencies[_relocationDependencyCount++] = definer;
    }

    /// <summary>
    /// The scope its relocations were resolved in (set by the load that mapped it). For a host library, whose
    /// relocation scope was glibc's, what a lookup through its handle searches: the local scope
    /// (<see cref="LocalSearchList"/>).
    /// </summary>
    public LookupScope? Scope
    {
        get => _scope ??= IsHost ? new LookupScope([], LocalSearchList, deepBind: false) : null;
        set => _scope = value;
    }

    private LookupScope? _scope;

    /// <summary>False when the load that mapped it had <see cref="LoadOptions.RunResolvers"/> false: none of its IFUNC
    /// resolvers runs, for a relocation or a lookup.</summary>
    public bool ResolversAllowed { get; set; } = true;

    /// <summary>Handles plus the DT_NEEDED edges and relocation dependencies (<see cref="RelocationDependencies"/>) of
    /// loaded modules that point at it.</summary>
    public int ReferenceCount { get; set; }

    /// <summary>The handles (<see cref="ElfLibrary"/>s) on it: what keeps a module, and what it needs, loaded.</summary>
    public int Handles { get; set; }

    /// <summary>Where the namespace's last unload collection left it (reached from a handle, or placed in the unload
    /// order): a mark instead of a set made for each unload. Only for a module Loader mapped (a host module is shared).</summary>
    public int CollectionMark { get; set; }

    /// <summary>During an unload's collection from one module: how many edges (DT_NEEDED, relocation dependencies) of
    /// the modules it reaches point at this one (<see cref="ModuleNamespace"/>).</summary>
    public int CollectionEdges { get; set; }

    /// <summary>Its place in its namespace's load order (set when its load commits): the order an unload's collection
    /// visits the modules it unloads in.</summary>
    public long LoadSequence { get; set; }

    /// <summary>Kept loaded until its namespace is disposed, whatever its handles (glibc's <c>l_nodelete_active</c>): set
    /// when the load that made it so succeeds (<see cref="ModuleNamespace"/>).</summary>
    public bool NoDelete { get; set; }

    public bool Relocated { get; set; }
    public bool Initialized { get; set; }
    public bool Finalized { get; set; }

    /// <summary>Its entry in the debugger's list (<see cref="DebuggerView"/>); 0 when not listed.</summary>
    public nint DebuggerEntry { get; set; }

    /// <summary>The absolute address of the <c>.eh_frame</c> registered with libgcc (by the mapper or
    /// <see cref="UnwindRegistry"/>; the image holds it), or null.</summary>
    public nint? RegisteredEhFrame => Image is { RegisteredEhFrame: not 0 } image ? image.RegisteredEhFrame : null;

    /// <summary>This module's handle's recent <c>GetExport</c> answers; made at its first unversioned lookup.</summary>
    public ExportCache? Exports;

    /// <summary>
    /// What <c>dlsym</c> on its handle searches: the module, then its DT_NEEDED tree breadth-first, each module once.
    /// Fixed once the module is loaded, so computed once.
    /// </summary>
    public Module[] LocalSearchList
    {
        get
        {
            if (_localSearchList is { } known)
                return known;
            var list = new List<Module>();
            AppendTree(list);
            Module[] result = [.. list];
            Volatile.Write(ref _localSearchList, result);
            return result;
        }
    }

    private Module[]? _localSearchList;

    /// <summary>Appends the module, then its DT_NEEDED tree breadth-first, each module once, to an empty
    /// <paramref name="list"/> (a tree has a few modules: the list is its own "seen").</summary>
    public void AppendTree(List<Module> list)
    {
        list.Add(this);
        for (int i = 0; i < list.Count; i++)
            foreach (var dependency in list[i].Needed)
                if (!IsIn(list, dependency))
                    list.Add(dependency);
    }

    /// <summary><see cref="LocalSearchList"/> once it has been computed (read without the namespace's lock), else null.</summary>
    public Module[]? KnownLocalSearchList => Volatile.Read(ref _localSearchList);

    /// <summary>
    /// Every DT_NEEDED edge of the module's tree, breadth-first (each module's edges once), each with its depth in this
    /// tree. The edges of a host library are part of the tree when the tree is a host library's; under an image they
    /// are the host's business, as when the image was linked (the host library is listed, not its own needs).
    /// </summary>
    public List<LibraryDependency> DependencyEdges()
    {
        var result = new List<LibraryDependency>();
        var level = new Dictionary<Module, int> { [this] = 0 };
        foreach (var module in LocalSearchList)
        {
            int depth = level[module] + 1;
            foreach (var dependency in module.Needed)
                level.TryAdd(dependency, depth);
            if (module.IsHost && !IsHost)
                continue;
            for (int i = 0; i < module._neededCount; i++)
            {
                var edge = module._edges[i];
                result.Add(new LibraryDependency(edge.Name, module.Info, edge.Module.Info, edge.Source, edge.Attempts ?? [], depth));
            }
        }
        return result;
    }

    /// <summary>The program headers: the image's, or the host's as mapped.</summary>
    public IReadOnlyList<ProgramHeader> ProgramHeaders => Image?.ProgramHeaders ?? Host!.ProgramHeaders;

    /// <summary>The address range the module owns: the image's reservation, or a host library's PT_LOADs' page-rounded span.</summary>
    public AddressRange Range
    {
        get
        {
            if (Image is not null)
                return Image.ReservedRange;
            ulong page = (ulong)Environment.SystemPageSize, start = ulong.MaxValue, end = 0;
            foreach (var ph in Host!.ProgramHeaders)
            {
                if (ph.Type != SegmentType.Load)
                    continue;
                start = Math.Min(start, ph.VirtualAddress & ~(page - 1));
                end = Math.Max(end, (ph.VirtualAddress + ph.MemorySize + page - 1) & ~(page - 1));
            }
            return end == 0 ? new AddressRange(Base, 0) : new AddressRange((nint)((ulong)Base + start), end - start);
        }
    }

    /// <summary>True when <paramref name="address"/> lies in one of the module's executable PT_LOADs.</summary>
    public bool IsExecutable(nint address)
    {
        ulong a = (ulong)address, bias = (ulong)Base;
        var headers = ProgramHeaders;
        for (int i = 0; i < headers.Count; i++)
            if (headers[i] is var ph && ph.Type == SegmentType.Load && (ph.Flags & SegmentFlags.Execute) != 0
                && a >= bias + ph.VirtualAddress && a < bias + ph.VirtualAddress + ph.MemorySize)
                return true;
        return false;
    }

    /// <summary>
    /// The image's last step, at unload or when a failed load rolls back: what was registered for the module comes
    /// off first, then the image is unmapped. Never for a host module, nor while <see cref="OwesThreadExits"/>
    /// (<see cref="ModuleNamespace"/> keeps such a module until the destructors have run).
    /// </summary>
    public void Unmap()
    {
        DebuggerView.Remove(this);
        UnwindRegistry.Deregister(this);
        Tls?.Dispose();
        Image!.Dispose();
        TlsIndexes?.Dispose(); // after the image: its descriptors point here
        ThreadExits?.Dispose();
    }

    public override string ToString() => Info.ToString();
}
