namespace Loader;

/// <summary>How <see cref="ElfLibrary.Load(string, LoadOptions?)"/> loads a library and its dependencies.</summary>
public sealed record LoadOptions
{
    /// <summary>The largest address span the loader reserves for one image. Default 1 GiB.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive (a limit of 0 or less is no limit).</exception>
    public long MaxImageSize
    {
        get => _maxImageSize;
        init => _maxImageSize = MapOptions.CheckMaxImageSize(value);
    }

    private readonly long _maxImageSize = MapOptions.DefaultMaxImageSize;

    /// <summary>Directories searched for DT_NEEDED entries (and for a name without '/' given to Load) after the
    /// requester's DT_RUNPATH and before /etc/ld.so.cache (glibc has no such step; it is where <c>dlopen</c> callers
    /// would set LD_LIBRARY_PATH).</summary>
    public IReadOnlyList<string> SearchPaths { get; init; } = [];

    /// <summary>The LD_LIBRARY_PATH to search (colon-separated), for DT_NEEDED entries and for a name without '/'
    /// given to Load; null reads the environment variable when the load starts.</summary>
    public string? LdLibraryPath { get; init; }

    /// <summary>Libraries (sonames or paths) taken from the host process rather than loaded by Loader, in addition to
    /// the system runtime (<see cref="Linking.HostModules.SystemRuntime"/>). They join the global scope.</summary>
    public IReadOnlyList<string> HostLibraries { get; init; } = [];

    /// <summary>Search the library's local scope before the global scope, like <c>RTLD_DEEPBIND</c>.</summary>
    public bool DeepBind { get; init; }

    /// <summary>Apply DT_TEXTREL relocations (writes into read-only or executable segments) through a temporary
    /// read-write, never executable, mprotect. Default false: such a library is refused.</summary>
    public bool AllowTextRelocations { get; init; }

    /// <summary>Keep the library loaded once the load succeeded, like <c>RTLD_NODELETE</c>: disposing its handles leaves
    /// it (and what it needs) mapped, with its state, until its <see cref="LoaderContext"/> is disposed. A library marked
    /// <c>DF_1_NODELETE</c> (<c>-z nodelete</c>), or one that defines an <c>STB_GNU_UNIQUE</c> symbol its context
    /// entered, is kept so without it, as glibc keeps them.</summary>
    public bool NoDelete { get; init; }

    /// <summary>Run DT_INIT and DT_INIT_ARRAY after relocation (and the finalizers at unload). Default true.</summary>
    public bool RunInitializers { get; init; } = true;

    /// <summary>Run IFUNC resolvers of the images Loader maps (for STT_GNU_IFUNC bindings and R_X86_64_IRELATIVE).
    /// Default true. With this and <see cref="RunInitializers"/> false, no code of the library runs at all: a load
    /// that needs a resolver fails naming it.</summary>
    public bool RunResolvers { get; init; } = true;

    /// <summary>A range the caller reserved (mmap PROT_NONE, or <see cref="Mapping.AddressReservation"/>) for the library
    /// itself, not its dependencies: the image starts at its first byte and no reservation of Loader's own is made. At
    /// unload (and after a failed load) the image's span goes back to PROT_NONE anonymous pages, never unmapped. A range
    /// too small, not mapped, or misaligned for the library's p_align is refused (unless <see cref="ReservedRangeIsHint"/>).
    /// Used only when the library is mapped by this load (not when the context already has it).</summary>
    public Mapping.AddressRange? ReservedRange { get; init; }

    /// <summary>A <see cref="ReservedRange"/> that cannot hold the image is passed over and the library loads elsewhere.</summary>
    public bool ReservedRangeIsHint { get; init; }

    /// <summary>After relocation, write the library's RELRO pages to this file (a memfd, a <c>shm_open</c> object or a
    /// regular file, opened read-write), seal it when it is a memfd made with MFD_ALLOW_SEALING, and map it back over
    /// RELRO, shared and read-only (bionic's <c>ANDROID_DLEXT_WRITE_RELRO</c>). See <see cref="ElfLibrary.RelroSharing"/>.</summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle? WriteRelro { get; init; }

    /// <summary>After relocation, map each RELRO page identical to this file's (written by <see cref="WriteRelro"/> in a
    /// process that loaded the library at the same address) from it, shared and read-only; the others stay private
    /// (bionic's <c>ANDROID_DLEXT_USE_RELRO</c>). A short or different file is never an error.</summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle? UseRelro { get; init; }

    /// <summary>Map a writable segment of eight pages or more whose file bytes lie mostly in <c>PT_GNU_RELRO</c> (at most
    /// 16 MiB outside it) with <c>MAP_POPULATE</c>, so that the kernel copies its pages in that mmap instead of taking a
    /// page fault for each when the relocations first write it. Default true: the relocations write nearly every such
    /// page (97 % of the system's libraries' writable file pages), and a large library loads faster for it (libpfm by a fifth,
    /// libpython by a tenth, on a virtual machine whose page faults are dear); false leaves
    /// every page to fault when first touched, as glibc's <c>dlopen</c> does, so that no page nothing writes is copied.</summary>
    public bool PrefaultWritableSegments { get; init; } = true;

    /// <summary>Serve a module's dynamic TLS block (one no initial-exec code needs in static TLS) with Loader's own
    /// <c>__tls_get_addr</c>, which the modules Loader maps are bound to, instead of <c>dlopen</c>ing a carrier for
    /// it: the block is made in each thread on its first access from the module's <c>.tdata</c>, as glibc makes its
    /// own dynamic blocks, and the load costs no memfd and no second <c>dlopen</c>. Default true; false gives every
    /// dynamic block a carrier, glibc's own module ID and <c>__tls_get_addr</c> (what <c>dlinfo</c> and debuggers
    /// see). Static blocks are carriers either way.</summary>
    public bool ServeDynamicTls { get; init; } = true;

    /// <summary>Make the frames of every image this load maps known to libgcc's unwinder (a C++ exception that crosses
    /// them, <c>backtrace</c>, <c>_Unwind_Backtrace</c>), as glibc's own objects are known to it: each image's
    /// <c>.eh_frame</c> is checked entry by entry and registered with libgcc before any initializer runs.
    /// Default true. False skips the check and the registration — for a library no unwinder will walk through, such as
    /// a C library called only from managed code: its load is cheaper (the check reads the whole table; libz's load +
    /// unload by 2–5 %, libsqlite3's by 5–9 % on this VM), and nothing is added to libgcc's registry, whose every frame
    /// lookup in the process takes a lock once anything is registered. Its frames are then
    /// invisible to libgcc: an exception thrown into or through them ends the process in <c>std::terminate</c>, and a
    /// backtrace stops at them (<see cref="ElfLibrary.UnwindTable"/> says <see cref="UnwindTableState.NotRegistered"/>).
    /// An image an earlier load mapped keeps what that load chose.</summary>
    public bool RegisterUnwindTables { get; init; } = true;

    /// <summary>The defaults.</summary>
    public static LoadOptions Default { get; } = new();

    /// <summary>The mapping stage's options. RELRO is deferred: the load protects it after linking. Only the root goes
    /// into the caller's range.</summary>
    internal MapOptions ToMapOptions(bool root = false) =>
        MaxImageSize == MapOptions.DefaultMaxImageSize && (!root || ReservedRange is null) && !ReservedRangeIsHint
            && PrefaultWritableSegments && RegisterUnwindTables
            ? (Linking.LibgccRegistry.TakesArrays ? DeferredRelroMapOptions : DeferredRelroRegisteringMapOptions) // what nearly every load asks: one immutable instance instead of one a module
            : new()
    {
        MaxImageSize = MaxImageSize,
        ApplyRelro = false,
        ReservedRange = root ? ReservedRange : null,
        ReservedRangeIsHint = ReservedRangeIsHint,
        RegisterUnwindTable = RegisterUnwindTables && !Linking.LibgccRegistry.TakesArrays,
        CheckUnwindTable = RegisterUnwindTables,
        PrefaultWritableSegments = PrefaultWritableSegments,
    };

    /// <summary>The default mapping options of a load: RELRO deferred, large writable segments populated, the unwind
    /// table checked by the mapper and registered after relocation — through an array, which reads nothing of it
    /// (<see cref="Linking.LibgccRegistry"/>).</summary>
    private static readonly MapOptions DeferredRelroMapOptions = new()
    {
        ApplyRelro = false, PrefaultWritableSegments = true,
    };

    /// <summary>The same, for a libgcc that takes only the table itself: the mapper registers it while the pages
    /// libgcc's read of its first word faults in are still ones the table's own overlay replaces.</summary>
    private static readonly MapOptions DeferredRelroRegisteringMapOptions = new()
    {
        ApplyRelro = false, RegisterUnwindTable = true, PrefaultWritableSegments = true,
    };

    /// <summary>A caller mistake: one load writes RELRO or uses it, not both.</summary>
    internal void CheckRelroSharing()
    {
        if (WriteRelro is not null && UseRelro is not null)
            throw new ArgumentException("LoadOptions.WriteRelro and UseRelro cannot both be set: a load writes RELRO or uses it.");
    }
}
