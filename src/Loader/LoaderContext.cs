using Loader.Linking;

namespace Loader;

/// <summary>
/// A namespace of loaded libraries, like glibc's link-map namespaces (<c>dlmopen</c>) without their limit: the set of
/// libraries Loader mapped, their reference counts, the IFUNC results and unique symbols, and one lock that every
/// load and unload takes. <see cref="ElfLibrary.Load(string, LoadOptions?)"/> uses <see cref="Default"/>; a
/// <c>new LoaderContext()</c> loads its own independent copies (their data is not shared). Host libraries are the
/// process's and are shared by every context. A thin public handle: the state and the linking work are the
/// namespace's (<c>Linking/ModuleNamespace</c>).
/// </summary>
public sealed class LoaderContext : IDisposable
{
    /// <summary>The context <see cref="ElfLibrary.Load(string, LoadOptions?)"/> uses.</summary>
    public static LoaderContext Default { get; } = new();

    internal ModuleNamespace Namespace { get; } = new();

    /// <summary>Loads the shared object at <paramref name="path"/> and its dependencies into this context: mapped,
    /// relocated (bind now), RELRO protected, initializers run. Loading a file already loaded here returns a new
    /// handle on the same image. A name without '/' is searched for as <c>dlopen</c> does
    /// (<see cref="ElfLibrary.Load(string, LoadOptions?)"/> says where).</summary>
    /// <exception cref="LibraryNotFoundException">A name without '/' was found nowhere; every place tried is listed.</exception>
    /// <exception cref="LoaderException">The library or a dependency cannot be loaded; nothing is left mapped or open.</exception>
    public ElfLibrary Load(string path, LoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new ElfLibrary(this, Namespace.Load(path, default, fromMemory: false, options ?? LoadOptions.Default));
    }

    /// <summary>Loads a shared object held in memory (through a memfd named <paramref name="name"/>).</summary>
    /// <exception cref="LoaderException">The image or a dependency cannot be loaded.</exception>
    public ElfLibrary Load(ReadOnlySpan<byte> image, string name, LoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new ElfLibrary(this, Namespace.Load(name, image, fromMemory: true, options ?? LoadOptions.Default));
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

    /// <summary>
    /// Unloads every library the context holds — finalizers first, dependents before dependencies — whatever handles
    /// are still open, the libraries kept loaded (<see cref="LoadedLibraryState.NoDelete"/>) too (they become disposed: <see cref="ElfLibrary.GetExport(string)"/> on them throws
    /// <see cref="ObjectDisposedException"/>), and refuses later loads with <see cref="ObjectDisposedException"/>.
    /// Idempotent. The default context lives as long as the process and cannot be disposed.
    /// </summary>
    /// <exception cref="InvalidOperationException">This is <see cref="Default"/>.</exception>
    /// <exception cref="LoaderException">A finalizer could not be run; thrown after everything was unloaded.</exception>
    public void Dispose()
    {
        if (ReferenceEquals(this, Default))
            throw new InvalidOperationException("LoaderContext.Default lives as long as the process; dispose the libraries instead");
        Namespace.UnloadAll();
    }

    /// <summary>The libraries Loader mapped in this context, in load order, with their reference counts.</summary>
    public IReadOnlyList<LoadedLibraryState> LoadedLibraries => Namespace.Snapshot();

    /// <summary>
    /// The global scope a load in this context searches first: the host's runtime libraries (and
    /// <paramref name="options"/>' <see cref="LoadOptions.HostLibraries"/>) that the process has, in the host's load order.
    /// </summary>
    public IReadOnlyList<ModuleInfo> GetGlobalScope(LoadOptions? options = null)
    {
        var modules = Namespace.GlobalScope(HostLibraryPolicy.For(options));
        var result = new List<ModuleInfo>(modules.Length);
        foreach (var module in modules)
            result.Add(module.Info);
        return result;
    }
}
