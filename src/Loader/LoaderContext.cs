using System.Text;
using Loader.Linking;
using Loader.Mapping;
using Loader.Native;

namespace Loader;

/// <summary>A library loaded in a context and how many references keep it loaded.</summary>
/// <param name="Module">The module.</param>
/// <param name="ReferenceCount">Handles plus the DT_NEEDED edges of other loaded libraries that point at it.</param>
public sealed record LoadedLibraryState(ModuleInfo Module, int ReferenceCount);

/// <summary>
/// A namespace of loaded libraries, like glibc's link-map namespaces (<c>dlmopen</c>) without their limit: the set of
/// libraries Loader mapped, their reference counts, the IFUNC results and unique symbols, and one lock that every
/// load and unload takes. <see cref="ElfLibrary.Load(string, LoadOptions?)"/> uses <see cref="Default"/>; a
/// <c>new LoaderContext()</c> loads its own independent copies (their data is not shared). Host libraries are the
/// process's and are shared by every context.
/// </summary>
public sealed class LoaderContext
{
    private readonly Lock _lock = new();
    private readonly List<Module> _modules = [];
    private readonly Dictionary<HostModule, Module> _hostModules = [];
    private readonly Dictionary<nint, nint> _resolverResults = [];
    private readonly Dictionary<string, ResolvedSymbol> _uniqueSymbols = new(StringComparer.Ordinal);

    /// <summary>The context <see cref="ElfLibrary.Load(string, LoadOptions?)"/> uses.</summary>
    public static LoaderContext Default { get; } = new();

    /// <summary>Loads the shared object at <paramref name="path"/> and its dependencies into this context: mapped,
    /// relocated (bind now), RELRO protected, initializers run. Loading a file already loaded here returns a new
    /// handle on the same image.</summary>
    /// <exception cref="LoaderException">The library or a dependency cannot be loaded; nothing is left mapped or open.</exception>
    public ElfLibrary Load(string path, LoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        lock (_lock)
            return new ElfLibrary(this, new LoadSession(this, options ?? LoadOptions.Default).Load(path, default, fromMemory: false));
    }

    /// <summary>Loads a shared object held in memory (through a memfd named <paramref name="name"/>).</summary>
    /// <exception cref="LoaderException">The image or a dependency cannot be loaded.</exception>
    public ElfLibrary Load(ReadOnlySpan<byte> image, string name, LoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_lock)
            return new ElfLibrary(this, new LoadSession(this, options ?? LoadOptions.Default).Load(name, image, fromMemory: true));
    }

    /// <summary>Like <see cref="Load(string, LoadOptions?)"/>; false (and nothing left mapped or open) on failure.</summary>
    public bool TryLoad(string path, out ElfLibrary? library, LoadOptions? options = null)
    {
        try
        {
            library = Load(path, options);
            return true;
        }
        catch (LoaderException)
        {
            library = null;
            return false;
        }
    }

    /// <summary>The libraries Loader mapped in this context, in load order, with their reference counts.</summary>
    public IReadOnlyList<LoadedLibraryState> LoadedLibraries
    {
        get
        {
            lock (_lock)
                return [.. _modules.Select(m => new LoadedLibraryState(m.Info, m.ReferenceCount))];
        }
    }

    /// <summary>
    /// The global scope a load in this context searches first: the host's runtime libraries (and
    /// <paramref name="options"/>' <see cref="LoadOptions.HostLibraries"/>) that the process has, in the host's load order.
    /// </summary>
    public IReadOnlyList<ModuleInfo> GetGlobalScope(LoadOptions? options = null)
    {
        options ??= LoadOptions.Default;
        var names = new HashSet<string>(HostModules.SystemRuntime.Concat(options.HostLibraries).SelectMany(n => new[] { n, Path.GetFileName(n) }), StringComparer.Ordinal);
        lock (_lock)
            return [.. GlobalScope(options, names).Select(m => m.Info)];
    }

    internal Module GetHostModule(HostModule host)
    {
        if (!_hostModules.TryGetValue(host, out var module))
            _hostModules[host] = module = Module.ForHost(host);
        return module;
    }

    internal IReadOnlyList<Module> GlobalScope(LoadOptions options, HashSet<string> hostNames)
    {
        foreach (string name in options.HostLibraries)
        {
            if (HostModules.Get(name, out string? error) is null)
                throw new LoaderException($"{name}: named in LoadOptions.HostLibraries, but the system loader could not load it: {error}");
        }
        var result = new List<Module>();
        foreach (var host in HostModules.Enumerate())
        {
            if (host.IsMainProgram || host.IsVdso)
                continue;
            if ((host.SoName is { } s && hostNames.Contains(s)) || hostNames.Contains(Path.GetFileName(host.Path)) || hostNames.Contains(host.Path))
                result.Add(GetHostModule(host));
        }
        return result;
    }

    internal Module? FindLoaded(FileIdentity identity)
    {
        foreach (var m in _modules)
            if (!m.Image!.IsFromMemory && m.File == identity)
                return m;
        return null;
    }

    internal Module? FindLoaded(string soNameOrPath)
    {
        foreach (var m in _modules)
            if (m.SoName == soNameOrPath || m.Path == soNameOrPath)
                return m;
        return null;
    }

    internal void Commit(List<Module> modules) => _modules.AddRange(modules);

    /// <summary>
    /// Calls an IFUNC resolver once per context and caches its result (keyed by the resolver's address), so every
    /// relocation and export of that symbol gets the same address. With <see cref="LoadOptions.RunResolvers"/> false,
    /// a resolver in an image Loader mapped is refused (host resolvers are the host's code, already running).
    /// </summary>
    internal nint RunResolver(Module owner, nint resolver, string what, LoadOptions options)
    {
        lock (_lock)
        {
            if (TryGetResolverResult(resolver, out nint cached))
                return cached;
            if (!options.RunResolvers && !owner.IsHost)
                throw new RelocationException(owner.Path, $"{owner.Path}: {what} needs its resolver run, and LoadOptions.RunResolvers is false");
            if (!IsExecutable(owner, resolver))
                throw new RelocationException(owner.Path, $"{owner.Path}: {what}: the resolver 0x{resolver:x} does not lie in an executable PT_LOAD");
            nint result = NativeCalls.CallResolver(resolver);
            _resolverResults[resolver] = result;
            return result;
        }
    }

    /// <summary>STB_GNU_UNIQUE: the first definition found in this context is the one every later lookup gets.</summary>
    /// <summary>The cached result of a resolver already run in this context.</summary>
    internal bool TryGetResolverResult(nint resolver, out nint result)
    {
        lock (_lock)
            return _resolverResults.TryGetValue(resolver, out result);
    }

    internal ResolvedSymbol InternUnique(ReadOnlySpan<byte> name, ResolvedSymbol found)
    {
        string key = Encoding.UTF8.GetString(name);
        if (_uniqueSymbols.TryGetValue(key, out var first))
            return first;
        _uniqueSymbols[key] = found;
        return found;
    }

    /// <summary>Drops one reference; at zero, runs finalizers (dependents first) and unmaps.</summary>
    internal void Release(Module module)
    {
        lock (_lock)
        {
            var unload = new List<Module>();
            Decrement(module, unload);
            foreach (var m in unload)
            {
                if (m.Initialized && !m.Finalized)
                {
                    m.Finalized = true;
                    Initializers.RunFinalizers(m);
                }
            }
            foreach (var m in unload)
            {
                _modules.Remove(m);
                foreach (var key in _resolverResults.Keys.Where(k => m.Image!.ReservedRange.Overlaps(k, k + 1)).ToList())
                    _resolverResults.Remove(key);
                foreach (var key in _uniqueSymbols.Where(u => u.Value.Module == m).Select(u => u.Key).ToList())
                    _uniqueSymbols.Remove(key);
                m.Image!.Dispose();
            }
        }
    }

    private static void Decrement(Module module, List<Module> unload)
    {
        if (module.IsHost || module.ReferenceCount <= 0)
            return;
        if (--module.ReferenceCount > 0)
            return;
        unload.Add(module);
        foreach (var dependency in module.Needed)
            Decrement(dependency, unload);
    }

    private static bool IsExecutable(Module module, nint address)
    {
        ulong a = (ulong)address, bias = (ulong)module.Base;
        var headers = module.Image?.ProgramHeaders ?? module.Host!.ProgramHeaders;
        foreach (var ph in headers)
            if (ph.Type == Elf.SegmentType.Load && (ph.Flags & Elf.SegmentFlags.Execute) != 0
                && a >= bias + ph.VirtualAddress && a < bias + ph.VirtualAddress + ph.MemorySize)
                return true;
        return false;
    }

    internal Lock SyncRoot => _lock;
}
