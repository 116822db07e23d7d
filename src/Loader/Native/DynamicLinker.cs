using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary><c>RTLD_*</c> of dlfcn.h (glibc, x86_64): how <c>dlopen</c> binds and where it puts the library.</summary>
[Flags]
internal enum RtldFlags
{
    RTLD_LAZY = 0x0001,
    RTLD_NOW = 0x0002,
    /// <summary>Only find an object already loaded (and take a reference on it); never load.</summary>
    RTLD_NOLOAD = 0x0004,
    RTLD_DEEPBIND = 0x0008,
    RTLD_GLOBAL = 0x0100,
    /// <summary>The default: the library's symbols are not added to the global scope.</summary>
    RTLD_LOCAL = 0x0000,
    RTLD_NODELETE = 0x1000,
}

/// <summary><c>RTLD_DI_*</c> of dlfcn.h: what <c>dlinfo</c> reports.</summary>
internal enum DlinfoRequest
{
    /// <summary>The object's <c>struct link_map *</c>, stored in <c>*arg</c>.</summary>
    RTLD_DI_LINKMAP = 2,
    /// <summary>The object's TLS module ID (a <c>size_t</c>; 0 when it has no PT_TLS).</summary>
    RTLD_DI_TLS_MODID = 9,
    /// <summary>The calling thread's TLS block of the object, or NULL when this thread has not allocated it yet.</summary>
    RTLD_DI_TLS_DATA = 10,
}

/// <summary>
/// What <c>dl_iterate_phdr</c> reports for one loaded object, copied out of its <c>struct dl_phdr_info</c>.
/// </summary>
/// <param name="Base"><c>dlpi_addr</c>: the load bias, added to every <c>p_vaddr</c>.</param>
/// <param name="Name"><c>dlpi_name</c>: the path the system loader opened; empty for the main program.</param>
/// <param name="ProgramHeaders"><c>dlpi_phdr</c>: the address of its program headers in memory.</param>
/// <param name="ProgramHeaderCount"><c>dlpi_phnum</c>.</param>
/// <param name="Adds"><c>dlpi_adds</c>: how many objects were ever loaded into the process.</param>
/// <param name="Subs"><c>dlpi_subs</c>: how many were ever unloaded. (Adds, Subs) unchanged = the set is unchanged.</param>
internal readonly record struct LoadedObject(nint Base, string Name, nint ProgramHeaders, int ProgramHeaderCount, ulong Adds, ulong Subs);

/// <summary>
/// The host's dynamic linker (glibc's <c>ld.so</c> behind libc.so.6): <c>dl_iterate_phdr</c>, <c>dlopen</c>,
/// <c>dlerror</c>, <c>dlclose</c>, <c>dlsym</c>, <c>dlvsym</c> and <c>dlinfo</c>. Since glibc 2.34 they all live in
/// libc.so.6 (libdl.so.2 is an empty stub), so they are imported from there, by its full name: the runtime binds a
/// bare "libc" only after probing for libc.so (a linker script), liblibc.so and more in every library directory,
/// dozens of failed opens on the first call. Not from libdl.so.2 either, which a NativeAOT executable does not link:
/// the first call would load that stub into the process as one more host module, shown in every global scope.
/// Addresses cross this boundary as <see cref="nint"/>; errors come back as the <c>dlerror</c> text.
/// </summary>
internal static unsafe partial class DynamicLinker
{
    // struct dl_phdr_info on x86_64 (link.h): dlpi_addr at 0, dlpi_name at 8, dlpi_phdr at 16, dlpi_phnum (Elf64_Half)
    // at 24, then dlpi_adds at 32 and dlpi_subs at 40. The last two were added later (glibc 2.4): the callback's size
    // argument says whether the caller's struct has them, and they must not be read when it is shorter.
    private const int PhdrInfoAddsOffset = 32;
    private const int PhdrInfoSubsOffset = 40;
    private const int PhdrInfoSizeWithCounters = 48;

    // struct link_map (link.h, the public head of glibc's larger one): l_addr at 0, l_name at 8, l_ld at 16.
    private const int LinkMapNameOffset = 8;
    private const int LinkMapDynamicOffset = 16;

    static DynamicLinker()
    {
        // dlerror's text describes the last dl* call *on this thread*, and any successful dl* call clears it. The
        // runtime binds a P/Invoke lazily, with its own dlsym, the first time it is called: if that first call were
        // the dlerror right after a failed dlopen, the runtime's successful dlsym would wipe the message before we
        // read it. Calling dlerror once here binds it early (and clears any stale message).
        dlerror();
    }

    [LibraryImport("libc.so.6", EntryPoint = "dl_iterate_phdr")]
    private static partial int dl_iterate_phdr(delegate* unmanaged<byte*, nuint, void*, int> callback, void* data);

    // The names go in as byte* (CString): an import with a string parameter needs a marshalling stub, which the JIT
    // compiles on the first call; a blittable one ReadyToRun compiles into the caller.
    [LibraryImport("libc.so.6", EntryPoint = "dlopen")]
    private static partial void* dlopen(byte* file, RtldFlags mode);

    [LibraryImport("libc.so.6", EntryPoint = "dlclose")]
    private static partial int dlclose(void* handle);

    [LibraryImport("libc.so.6", EntryPoint = "dlerror")]
    private static partial byte* dlerror();

    [LibraryImport("libc.so.6", EntryPoint = "dlsym")]
    private static partial void* dlsym(void* handle, byte* name);

    [LibraryImport("libc.so.6", EntryPoint = "dlvsym")]
    private static partial void* dlvsym(void* handle, byte* name, byte* version);

    [LibraryImport("libc.so.6", EntryPoint = "dlinfo")]
    private static partial int dlinfo(void* handle, DlinfoRequest request, void* arg);

    /// <summary>
    /// Every object in the process, in <c>dl_iterate_phdr</c> order: the main program first, then the objects in
    /// the order the system loader loaded them (its link-map list), the vDSO among them. A new array each time (the
    /// tests' view of glibc's list; <c>HostModules</c> walks into buffers it keeps).
    /// </summary>
    public static LoadedObject[] IterateObjects()
    {
        LoadedObject[] buffer = new LoadedObject[16];
        int count = IterateObjects(ref buffer, [], 0);
        return buffer.AsSpan(0, count).ToArray();
    }

    /// <summary>
    /// <see cref="IterateObjects()"/> into <paramref name="buffer"/> (replaced by a larger one when it is short); the
    /// count. An object at the same place as one of the first <paramref name="previousCount"/> of
    /// <paramref name="previous"/> (an earlier walk's, another array than <paramref name="buffer"/>), under the same
    /// name, gets that walk's name string: a walk repeated after each change of the process's objects (a cache of them
    /// checks <c>dlpi_adds</c>) then allocates only for what is new.
    /// </summary>
    public static int IterateObjects(ref LoadedObject[] buffer, LoadedObject[] previous, int previousCount)
    {
        var state = new IterationState(buffer, previous, previousCount);
        var handle = GCHandle.Alloc(state);
        try
        {
            // The return value is the last callback's: ours returns 0 (go on) unless it failed, and then it has
            // recorded why.
            dl_iterate_phdr(&CollectObject, (void*)GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        if (state.Failure is { } failure)
            throw new InvalidOperationException("dl_iterate_phdr: reading a struct dl_phdr_info failed", failure);
        buffer = state.Objects;
        return state.Count;
    }

    /// <summary>
    /// glibc's load and unload counters (<c>dlpi_adds</c>, <c>dlpi_subs</c>, the same in every object's report), read
    /// from the first object <c>dl_iterate_phdr</c> reports, which ends the walk; null when glibc reports no
    /// counters. Allocates nothing: what a cache of the host's modules checks before trusting itself.
    /// </summary>
    public static (ulong Adds, ulong Subs)? Generation()
    {
        var counters = default(Counters);
        dl_iterate_phdr(&ReadCounters, &counters);
        return counters.Present ? (counters.Adds, counters.Subs) : null;
    }

    private struct Counters
    {
        public ulong Adds, Subs;
        public bool Present;
    }

    [UnmanagedCallersOnly]
    private static int ReadCounters(byte* info, nuint size, void* data)
    {
        var counters = (Counters*)data;
        if (size >= PhdrInfoSizeWithCounters)
        {
            counters->Adds = *(ulong*)(info + PhdrInfoAddsOffset);
            counters->Subs = *(ulong*)(info + PhdrInfoSubsOffset);
            counters->Present = counters->Adds != 0;
        }
        return 1; // one object is enough: stop
    }

    // Called by glibc with its loader lock held (dl_load_write_lock): it only copies the fields out. It must not
    // dlopen or dlclose, and no exception may unwind into C, so a failure is recorded and stops the walk.
    [UnmanagedCallersOnly]
    private static int CollectObject(byte* info, nuint size, void* data)
    {
        var state = (IterationState)GCHandle.FromIntPtr((nint)data).Target!;
        try
        {
            nint address = *(nint*)info;
            byte* name = *(byte**)(info + 8);
            nint phdr = *(nint*)(info + 16);
            ushort phnum = *(ushort*)(info + 24);
            bool hasCounters = size >= PhdrInfoSizeWithCounters;
            ulong adds = hasCounters ? *(ulong*)(info + PhdrInfoAddsOffset) : 0;
            ulong subs = hasCounters ? *(ulong*)(info + PhdrInfoSubsOffset) : 0;
            // dlpi_name is "" (not NULL) for the main program; NULL is handled too, as the same.
            state.Add(new LoadedObject(address, state.KnownName(address, phdr, name) ?? Utf8(name) ?? "", phdr, phnum, adds, subs));
            return 0;
        }
        catch (Exception e)
        {
            state.Failure = e;
            return 1; // non-zero stops dl_iterate_phdr
        }
    }

    /// <summary>What <see cref="Open"/> reports when dlopen failed and dlerror had nothing to say.</summary>
    public const string OpenFailedWithoutMessage = "dlopen failed without a message";

    /// <summary>
    /// dlopen; the handle, or 0 with the dlerror text in <paramref name="error"/>. A null <paramref name="file"/>
    /// is the main program. dlopen of an object already loaded (by soname, path or file identity) takes a reference
    /// on it and returns the same handle.
    /// </summary>
    public static nint Open(string? file, RtldFlags flags, out string? error)
    {
        // dlopen's failure sentinel is NULL, with the reason in dlerror (not in errno).
        nint handle;
        if (file is null)
            handle = (nint)dlopen(null, flags);
        else
            fixed (byte* path = CString.Utf8(file, stackalloc byte[CString.StackBytes]))
                handle = (nint)dlopen(path, flags);
        error = handle == 0 ? TakeError() ?? OpenFailedWithoutMessage : null;
        return handle;
    }

    /// <summary>dlclose; false with the dlerror text when it fails. The object stays while other references remain.</summary>
    public static bool Close(nint handle, out string? error)
    {
        // dlclose returns 0 on success and non-zero (not -1 in general) on failure.
        bool ok = dlclose((void*)handle) == 0;
        error = ok ? null : TakeError() ?? "dlclose failed without a message";
        return ok;
    }

    /// <summary>
    /// dlsym: the address of <paramref name="name"/>'s default version in <paramref name="handle"/>'s scope (for an
    /// IFUNC, what its resolver returned), or 0 with <paramref name="error"/> set.
    /// </summary>
    public static nint Symbol(nint handle, string name, out string? error)
    {
        TakeError();
        nint address;
        fixed (byte* symbol = CString.Utf8(name, stackalloc byte[CString.StackBytes]))
            address = (nint)dlsym((void*)handle, symbol);
        // NULL is both dlsym's failure sentinel and a legitimate value (an absolute symbol 0, an IFUNC whose resolver
        // returned NULL): only dlerror tells them apart, which is why the stale message was cleared first.
        error = address == 0 ? TakeError() : null;
        return address;
    }

    /// <summary>dlvsym: like <see cref="Symbol"/> for version <paramref name="version"/> (<c>GLIBC_2.14</c>).</summary>
    public static nint VersionedSymbol(nint handle, string name, string version, out string? error)
    {
        TakeError();
        nint address;
        fixed (byte* symbol = CString.Utf8(name, stackalloc byte[CString.StackBytes]))
        fixed (byte* versionName = CString.Utf8(version, stackalloc byte[CString.StackBytes]))
            address = (nint)dlvsym((void*)handle, symbol, versionName);
        error = address == 0 ? TakeError() : null; // the same NULL ambiguity as dlsym
        return address;
    }

    /// <summary>
    /// dlinfo(RTLD_DI_LINKMAP): where the object behind <paramref name="handle"/> is: its load bias (<c>l_addr</c>),
    /// the address of its dynamic section in memory (<c>l_ld</c>, unique per loaded object) and its name (<c>l_name</c>).
    /// </summary>
    public static bool TryGetLinkMap(nint handle, out nint loadBias, out nint dynamicSection, out string name, out string? error)
    {
        void* map = null;
        // dlinfo returns 0 on success and -1 on failure, with the reason in dlerror.
        if (dlinfo((void*)handle, DlinfoRequest.RTLD_DI_LINKMAP, &map) != 0 || map is null)
        {
            error = TakeError() ?? "dlinfo(RTLD_DI_LINKMAP) failed without a message";
            (loadBias, dynamicSection, name) = (0, 0, "");
            return false;
        }
        loadBias = *(nint*)map;
        name = Utf8(*(byte**)((byte*)map + LinkMapNameOffset)) ?? "";
        dynamicSection = *(nint*)((byte*)map + LinkMapDynamicOffset);
        error = null;
        return true;
    }

    /// <summary>dlinfo(RTLD_DI_LINKMAP)'s load bias alone (<c>l_addr</c>), without decoding the name; false when dlinfo fails.</summary>
    public static bool TryGetLoadBias(nint handle, out nint loadBias)
    {
        void* map = null;
        bool ok = dlinfo((void*)handle, DlinfoRequest.RTLD_DI_LINKMAP, &map) == 0 && map is not null;
        loadBias = ok ? *(nint*)map : 0;
        if (!ok)
            TakeError();
        return ok;
    }

    /// <summary>dlinfo(RTLD_DI_TLS_MODID): the object's TLS module ID, 0 when it has no PT_TLS; false with the dlerror text.</summary>
    public static bool TryGetTlsModuleId(nint handle, out ulong moduleId, out string? error)
    {
        nuint id = 0;
        bool ok = dlinfo((void*)handle, DlinfoRequest.RTLD_DI_TLS_MODID, &id) == 0;
        moduleId = id;
        error = ok ? null : TakeError() ?? "dlinfo(RTLD_DI_TLS_MODID) failed without a message";
        return ok;
    }

    /// <summary>
    /// dlinfo(RTLD_DI_TLS_DATA): the calling thread's TLS block of the object, or 0 when the thread has none yet
    /// (a dynamic block is allocated on the thread's first <c>__tls_get_addr</c>; a static one exists in every thread).
    /// </summary>
    public static nint TlsBlockOfThisThread(nint handle)
    {
        void* block = null;
        return dlinfo((void*)handle, DlinfoRequest.RTLD_DI_TLS_DATA, &block) == 0 ? (nint)block : 0;
    }

    // dlerror returns NULL when nothing failed since the last call, and otherwise a string that is only valid until
    // the next dl* call on this thread: copy it at once. Reading it also clears it.
    private static string? TakeError() => Utf8(dlerror());

    private static string? Utf8(byte* s) => s is null ? null : Marshal.PtrToStringUTF8((nint)s);

    // An array grown by hand, not a List<LoadedObject>: that instantiation's class constructor is compiled by the JIT
    // on the first load (ReadyToRun does not carry it).
    private sealed class IterationState(LoadedObject[] buffer, LoadedObject[] previous, int previousCount)
    {
        public LoadedObject[] Objects { get; private set; } = buffer.Length > 0 ? buffer : new LoadedObject[16];

        public int Count { get; private set; }

        public Exception? Failure { get; set; }

        public void Add(LoadedObject loaded)
        {
            if (Count == Objects.Length)
            {
                var larger = new LoadedObject[Objects.Length * 2];
                Objects.AsSpan(0, Count).CopyTo(larger);
                Objects = larger;
            }
            Objects[Count++] = loaded;
        }

        /// <summary>The earlier walk's name of the object at <paramref name="address"/> with these program headers,
        /// when <paramref name="name"/> still spells it (compared in place); else null.</summary>
        public string? KnownName(nint address, nint programHeaders, byte* name)
        {
            // Objects keep their order between walks: the same position first, then the others.
            int count = previousCount, start = Math.Min(Count, count);
            for (int n = 0; n < count; n++)
            {
                ref readonly var known = ref previous[(start + n) % count];
                if (known.Base == address && known.ProgramHeaders == programHeaders && Spells(name, known.Name))
                    return known.Name;
            }
            return null;
        }

        // The C string is exactly these characters, each ASCII (a name with others is decoded afresh).
        private static bool Spells(byte* name, string text)
        {
            if (name is null)
                return text.Length == 0;
            int i = 0;
            for (; i < text.Length; i++)
                if (text[i] >= 0x80 || name[i] != text[i])
                    return false;
            return name[i] == 0;
        }
    }
}
