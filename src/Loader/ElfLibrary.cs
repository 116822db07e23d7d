using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Loader.Elf;
using Loader.Linking;
using Loader.Mapping;

namespace Loader;

/// <summary>
/// A shared object loaded by Loader — mapped, linked against its dependencies and the host's runtime libraries,
/// relocated, RELRO protected, initialized — or, for a host library, the host's copy. The handle users hold,
/// modeled on <see cref="NativeLibrary"/>: <see cref="GetExport(string)"/>, <see cref="TryGetExport(string, out nint)"/>,
/// <see cref="Dispose"/>. Each handle is one reference; the last one to go runs the finalizers and unmaps.
/// </summary>
public sealed class ElfLibrary : IDisposable
{
    private readonly Module _module;
    private int _disposed;

    internal ElfLibrary(LoaderContext context, Module module)
    {
        Context = context;
        _module = module;
    }

    /// <summary>
    /// Loads a shared object into <see cref="LoaderContext.Default"/>. As with <c>dlopen</c> and
    /// <see cref="NativeLibrary.Load(string)"/>, <paramref name="path"/> with a '/' is a path; a name without one
    /// (<c>libz.so.1</c>) is a host library's name (the host's copy), a soname the context already has, or else searched
    /// for in <c>LD_LIBRARY_PATH</c> (<see cref="LoadOptions.LdLibraryPath"/>), <see cref="LoadOptions.SearchPaths"/>,
    /// <c>/etc/ld.so.cache</c> and the default directories — never the current directory unless a search list names it.
    /// </summary>
    /// <exception cref="LibraryNotFoundException">A name without '/' was found nowhere; its
    /// <see cref="LibraryNotFoundException.Attempts"/> list every place tried, in order.</exception>
    /// <exception cref="LoaderException">The file or a dependency cannot be loaded; the message says which file,
    /// field, symbol or call, and why. Nothing is left mapped or open.</exception>
    public static ElfLibrary Load(string path, LoadOptions? options = null) => LoaderContext.Default.Load(path, options);

    /// <summary>Loads a shared object held in memory, through a memfd named <paramref name="name"/>.</summary>
    /// <exception cref="LoaderException">The image cannot be loaded.</exception>
    public static ElfLibrary Load(ReadOnlySpan<byte> image, string name, LoadOptions? options = null) =>
        LoaderContext.Default.Load(image, name, options);

    /// <summary>Loads the shared object at <paramref name="path"/> (a path, or a name searched for as
    /// <see cref="Load(string, LoadOptions?)"/> does); false (and nothing left mapped or open) when it cannot be
    /// loaded.</summary>
    public static bool TryLoad(string path, out ElfLibrary? library, LoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return LoaderContext.Default.TryLoad(path, out library, options);
    }

    /// <summary>The module behind the handle, for tests and the linking internals.</summary>
    internal Module LoadedModule => _module;

    /// <summary>The context the library is loaded in.</summary>
    public LoaderContext Context { get; }

    /// <summary>The module: path, soname, base, and whether it is the host's copy.</summary>
    public ModuleInfo Module => _module.Info;

    /// <summary>True when the file given to Load is a host library (by soname, name, or device and inode) and the
    /// host's copy is used: nothing was mapped by Loader.</summary>
    public bool IsHost => _module.IsHost;

    /// <summary>The load bias: PT_LOAD i starts at BaseAddress + p_vaddr.</summary>
    public nint BaseAddress => _module.Base;

    /// <summary>The size of the image's reservation in bytes (for a host library, the span of its PT_LOADs).</summary>
    public ulong Size => ReservedRange.Length;

    /// <summary>The path loaded, or the name of an image loaded from memory.</summary>
    public string Path => _module.Path;

    /// <summary>DT_SONAME, or null.</summary>
    public string? SoName => _module.SoName;

    /// <summary>The library's thread-local storage block (module ID, size, alignment, model, static offset), or null
    /// when it has none. For a host library, null: its TLS is glibc's.</summary>
    public TlsBlock? Tls => _module.Tls?.Block;

    /// <summary>
    /// Whether a C++ exception or a backtrace can unwind through this library's frames: its <c>.eh_frame</c>
    /// registered with libgcc, none to register, one the check refused, or one its load did not ask to register
    /// (<see cref="LoadOptions.RegisterUnwindTables"/>; <see cref="UnwindTableState"/>). A refusal
    /// is told from an empty table by walking the table again when asked, which reads its pages.
    /// </summary>
    public UnwindTableState UnwindTable
    {
        get
        {
            ThrowIfDisposed();
            if (_module.IsHost)
                return UnwindTableState.Host;
            lock (Context.Namespace.SyncRoot) // no unload unmaps the image while its table is read
                return _module.Image is { } image ? image.CurrentUnwindTable() : UnwindTableState.None;
        }
    }

    /// <summary>The mapping plan that was executed; null for a host library.</summary>
    public LoadPlan? Plan => _module.Image?.Plan;

    /// <summary>The address range the library owns (for a host library, its PT_LOADs' page-rounded span).</summary>
    public AddressRange ReservedRange => _module.Range;

    /// <summary>The regions in address order, with their absolute addresses and current protection (empty for a host library).</summary>
    public IReadOnlyList<ImageSegment> Segments => _module.Image?.Segments ?? [];

    /// <summary>What sharing RELRO did for this library (<see cref="LoadOptions.WriteRelro"/> or
    /// <see cref="LoadOptions.UseRelro"/>): pages shared, pages kept private, bytes. Null when no sharing was asked.</summary>
    public RelroSharingReport? RelroSharing => _module.Image?.RelroSharing;

    /// <summary>Every mmap, mprotect and munmap made for this library, in order (empty for a host library).</summary>
    public IReadOnlyList<MappingStep> MappingSteps => _module.Image?.MappingSteps ?? [];

    /// <summary>
    /// Every DT_NEEDED edge of the library's dependency tree, breadth-first: what was loaded for it, what was reused,
    /// what was taken from the host, and where each was found (with every place the search tried). A host library
    /// used as a dependency is one edge (its own needs are the host's); for a host library itself (<see cref="IsHost"/>),
    /// its whole DT_NEEDED tree as the host linked it, each entry the module the host loaded for it.
    /// </summary>
    public IReadOnlyList<LibraryDependency> Dependencies
    {
        get
        {
            lock (Context.Namespace.SyncRoot)
                return _module.DependencyEdges();
        }
    }

    /// <summary>
    /// The libraries this one's relocations bound to outside its DT_NEEDED tree (glibc's <c>l_reldeps</c>): a library of
    /// the tree it was loaded in whose definition interposed its own reference, kept loaded while this one is, as a
    /// dependency would be. Usually empty; always for a host library.
    /// </summary>
    public IReadOnlyList<ModuleInfo> RelocationDependencies
    {
        get
        {
            lock (Context.Namespace.SyncRoot)
            {
                var definers = _module.RelocationDependencies;
                var result = new ModuleInfo[definers.Length];
                for (int i = 0; i < result.Length; i++)
                    result[i] = definers[i].Info;
                return result;
            }
        }
    }

    /// <summary>The modules the library's relocations searched, in order (global scope, then local; local first
    /// with <see cref="LoadOptions.DeepBind"/>). For a host library, whose relocations were glibc's: its local scope,
    /// what <see cref="GetExport(string)"/> searches (itself, then its DT_NEEDED tree breadth-first).</summary>
    public IReadOnlyList<ModuleInfo> Scope => _module.Scope?.ToInfos() ?? [_module.Info];

    /// <summary>Every relocation applied to the library: DT_RELR, then each REL/RELA table in order; offset, type,
    /// symbol and version, the module that defined it, and the value now at the target (what Loader wrote, unless
    /// the library's own code has changed it since). Built on demand; empty for a host library.</summary>
    public IReadOnlyList<AppliedRelocation> Relocations
    {
        get
        {
            ThrowIfDisposed();
            lock (Context.Namespace.SyncRoot)
                return AppliedRelocations.Read(_module, Context.Namespace);
        }
    }

    /// <summary>
    /// The address of an exported symbol, as <c>dlsym(handle, name)</c>: the library, then its dependencies
    /// breadth-first, each once (a host library's too: libstdc++'s handle finds libc's <c>strlen</c>); the default
    /// (<c>@@</c>) version; an IFUNC's resolved address.
    /// </summary>
    /// <exception cref="SymbolNotFoundException">No module of the library's local scope exports it.</exception>
    public nint GetExport(string name) => GetExport(name, null);

    /// <summary>The address of <paramref name="name"/> at exactly <paramref name="version"/> (as <c>dlvsym</c>), or the
    /// default version when <paramref name="version"/> is null.</summary>
    /// <exception cref="SymbolNotFoundException">No module of the library's local scope exports it.</exception>
    /// <exception cref="RelocationException">The export is an IFUNC of a library loaded with
    /// <see cref="LoadOptions.RunResolvers"/> false: its resolver is not run.</exception>
    public nint GetExport(string name, string? version) =>
        Lookup(name, version, out nint address)
            ? address
            : ThrowHelper.SymbolNotFound<nint>(name, version, Path,
                $"{Path}: no export '{name}{(version is null ? "" : "@" + version)}' in the library or its dependencies");

    /// <summary>Like <see cref="GetExport(string)"/>; false when there is no such export.</summary>
    public bool TryGetExport(string name, out nint address) => TryGetExport(name, null, out address);

    /// <summary>Like <see cref="GetExport(string, string?)"/>; false when there is no such export, or when it is an IFUNC
    /// whose resolver may not run.</summary>
    public bool TryGetExport(string name, string? version, out nint address)
    {
        try
        {
            return Lookup(name, version, out address);
        }
        catch (RelocationException)
        {
            address = 0;
            return false;
        }
    }

    private bool Lookup(string name, string? version, out nint address)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ThrowIfDisposed();
        // An ASCII name (any C identifier) is hashed and compared as its chars; any other is encoded on the stack.
        // Either way a lookup allocates nothing for ordinary names.
        uint hash = GnuHashTable.Hash(name, out bool ascii);
        if (ascii && version is null)
            return HandleLookup.TryGetExport(Context.Namespace, _module, name, hash, out address);
        return ascii
            ? HandleLookup.TryGetExport(Context.Namespace, _module, SymbolName.FromAscii(name, hash), version, out address)
            : LookupEncoded(name, version, out address);
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool LookupEncoded(string name, string? version, out nint address)
    {
        int maxBytes = Encoding.UTF8.GetMaxByteCount(name.Length);
        Span<byte> utf8 = maxBytes <= 512 ? stackalloc byte[512] : new byte[maxBytes];
        utf8 = utf8[..Encoding.UTF8.GetBytes(name, utf8)];
        if (utf8.Contains((byte)0))
        {
            address = 0; // no string table entry holds a NUL
            return false;
        }
        return HandleLookup.TryGetExport(Context.Namespace, _module, new SymbolName(utf8), version, out address);
    }

    /// <summary>
    /// A delegate for an exported function (<see cref="Marshal.GetDelegateForFunctionPointer{TDelegate}(nint)"/>).
    /// It needs runtime code generation, so it is not available under Native AOT: there, call through a
    /// <c>delegate* unmanaged</c> of <see cref="GetExport(string)"/>'s address.
    /// </summary>
    [RequiresDynamicCode("Marshal.GetDelegateForFunctionPointer generates marshalling code at run time; use a delegate* unmanaged with GetExport under Native AOT.")]
    public TDelegate GetFunction<TDelegate>(string name) where TDelegate : Delegate =>
        Marshal.GetDelegateForFunctionPointer<TDelegate>(GetExport(name));

    /// <summary>
    /// How a reference from this library to <paramref name="symbol"/> (at <paramref name="version"/>, or unversioned)
    /// binds: every module of its scope in search order, what each defines, and the winner with its address — what
    /// <c>LD_DEBUG=bindings</c> shows for one name.
    /// </summary>
    public BindingExplanation Explain(string symbol, string? version = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(symbol);
        ThrowIfDisposed();
        return HandleLookup.Explain(Context.Namespace, _module, symbol, version);
    }

    /// <summary>Drops this handle's reference. When it was the last (and no loaded library needs it), the finalizers
    /// run (DT_FINI_ARRAY reversed, then DT_FINI; dependents before dependencies) and the image is unmapped — unless the
    /// library is kept loaded until its context is disposed, as glibc's <c>dlclose</c> keeps it: <c>DF_1_NODELETE</c>,
    /// <see cref="LoadOptions.NoDelete"/>, or the first definition its context entered of an <c>STB_GNU_UNIQUE</c> symbol
    /// (<see cref="LoaderContext.LoadedLibraries"/> shows which). Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Context.Namespace.Release(_module);
    }

    /// <inheritdoc/>
    public override string ToString() => _module.Info.ToString();

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0 || Context.Namespace.IsDisposed, this);
}
