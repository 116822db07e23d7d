using System.Collections.ObjectModel;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// The libraries the host process holds, loaded by the system loader: found with <c>dl_iterate_phdr</c> and read in
/// place (<see cref="HostModule"/>). The system runtime (<see cref="SystemRuntime"/>) is always taken from here, never
/// loaded a second time, because a process can hold only one working libc.
/// </summary>
/// <remarks>
/// The set of modules changes whenever anything in the process dlopens or dlcloses, so nothing here assumes it is
/// fixed: each <see cref="Enumerate"/> asks <c>dl_iterate_phdr</c> again. What is cached is the work of reading a
/// module, keyed by the object, and the whole list while glibc's load and unload counters (<c>dlpi_adds</c>,
/// <c>dlpi_subs</c>) have not moved. A module is read in place, so a module the process dlcloses must not be used
/// afterwards; the modules <see cref="Get"/> and <see cref="FindByFile"/> return are held open (one dlopen reference
/// each, for the process lifetime) so that cannot happen to them.
/// </remarks>
public static class HostModules
{
    private static readonly ReadOnlyCollection<string> s_systemRuntime = Array.AsReadOnly(
    [
        "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "ld-linux-x86-64.so.2",
        "libgcc_s.so.1", "libstdc++.so.6",
    ]);

    private static readonly Lock s_lock = new();

    // The last enumeration: its (dlpi_adds, dlpi_subs), its modules, and the object each was read from (s_keys[i] for
    // s_modules[i]). A few dozen, searched with a loop: a Dictionary<ObjectKey, HostModule> is some twenty more types
    // to load on the first load, and a comparer the runtime makes by reflection (docs/benchmarks.md, "Cold start").
    private static (ulong Adds, ulong Subs)? s_generation;
    private static ReadOnlyCollection<HostModule> s_modules = ReadOnlyCollection<HostModule>.Empty;
    private static ObjectKey[] s_keys = new ObjectKey[0];

    // The walks' buffers (this one and the last, in turn) and the scratch the next list is built in before it is
    // compared with the last: a walk after each dlopen or dlclose in the process (a TLS carrier's among them)
    // allocates only when the host's libraries changed.
    private static LoadedObject[] s_walk = new LoadedObject[32], s_lastWalk = new LoadedObject[32];
    private static int s_lastWalkCount;
    private static ObjectKey[] s_scratchKeys = new ObjectKey[0];
    private static HostModule[] s_scratchModules = new HostModule[0];

    /// <summary>How many times <see cref="Enumerate"/> has walked glibc's objects (the counters had moved): for tests.</summary>
    internal static long Walks { get; private set; }

    // The dlopen handles we hold, by the module's l_ld (its dynamic section's address: one per loaded object).
    private static readonly AddressMap s_handles = new();

    /// <summary>
    /// The system runtime, always taken from the host: libc.so.6, libm.so.6, libpthread.so.0, libdl.so.2, librt.so.1,
    /// ld-linux-x86-64.so.2, libgcc_s.so.1, libstdc++.so.6.
    /// </summary>
    public static IReadOnlyList<string> SystemRuntime => s_systemRuntime;

    /// <summary>
    /// Every module in the process now, in <c>dl_iterate_phdr</c> order (the host's load order: the main program
    /// first), skipping the vDSO only if it cannot be read.
    /// </summary>
    /// <exception cref="LoaderException">A loaded module's dynamic tables could not be read.</exception>
    public static IReadOnlyList<HostModule> Enumerate()
    {
        lock (s_lock)
        {
            // Nothing loaded or unloaded since the last walk: the list stands, and reading the counters costs one
            // callback and no allocation (the walk below marshals every object's name).
            if (s_generation is { } known && DynamicLinker.Generation() == known)
                return s_modules;
            // Two buffers in turn: the walk reuses the last one's name strings (most objects are still there).
            Walks++;
            (s_walk, s_lastWalk) = (s_lastWalk, s_walk);
            int count = DynamicLinker.IterateObjects(ref s_walk, s_lastWalk, s_lastWalkCount);
            s_lastWalkCount = count;
            var objects = s_walk.AsSpan(0, count);
            (ulong, ulong)? generation = count > 0 && objects[0].Adds != 0 ? (objects[0].Adds, objects[0].Subs) : null;
            if (generation is not null && generation == s_generation)
                return s_modules;

            if (s_scratchKeys.Length < count)
                (s_scratchKeys, s_scratchModules) = (new ObjectKey[count * 2], new HostModule[count * 2]);
            int n = 0;
            for (int i = 0; i < objects.Length; i++)
            {
                var loaded = objects[i];
                // Loader's own TLS carriers are glibc's objects but not libraries of the host (TlsCarrier).
                if (i != 0 && TlsCarrier.IsCarrierAt(loaded.Base))
                    continue;
                var key = new ObjectKey(loaded.Base, loaded.ProgramHeaders, loaded.Name);
                var module = ReadBefore(key, n);
                if (module is null)
                {
                    try
                    {
                        // glibc lists the main program first (the head of the base namespace's link-map list).
                        module = ReadWhileHeld(loaded, isMainProgram: i == 0);
                    }
                    catch (LoaderException) when (i != 0 && IsVdsoName(loaded.Name))
                    {
                        continue; // the kernel's vDSO is not a file we could read any other way: leave it out
                    }
                    if (module is null)
                        continue; // unloaded since dl_iterate_phdr listed it (or in another dlmopen namespace)
                }
                s_scratchKeys[n] = key;
                s_scratchModules[n] = module;
                n++;
            }

            // The same modules (only objects that are not host libraries came or went, as a TLS carrier does): the
            // list stands, so what is derived from it once (the global scope, its filter) stands too.
            if (!SameKeys(s_keys, s_scratchKeys, n))
            {
                // Objects no longer present are forgotten, so one loaded later at the same place is read afresh.
                var keys = new ObjectKey[n];
                var modules = new HostModule[n];
                for (int i = 0; i < n; i++)
                    (keys[i], modules[i]) = (s_scratchKeys[i], s_scratchModules[i]);
                s_keys = keys;
                s_modules = new ReadOnlyCollection<HostModule>(modules);
            }
            s_scratchModules.AsSpan(0, n).Clear(); // no reference kept past the walk
            s_generation = generation;
            return s_modules;
        }
    }

    /// <summary>
    /// Tells the cache that the caller's own <c>dlopen</c> or <c>dlclose</c> of an object that is no host library (a TLS
    /// carrier) loaded <paramref name="added"/> objects and unloaded <paramref name="removed"/>, between glibc's
    /// counters <paramref name="before"/> and <paramref name="after"/> (<see cref="DynamicLinker.Generation"/>, read
    /// around the call). When the list was read at <paramref name="before"/> and the counters moved by exactly that, no
    /// other thread loaded or unloaded anything meanwhile (they only grow), so the list stands at
    /// <paramref name="after"/>, and the next load does not walk every object again to find nothing new. Otherwise
    /// nothing changes: the next <see cref="Enumerate"/> walks.
    /// </summary>
    internal static void AcceptOwnChange((ulong Adds, ulong Subs)? before, (ulong Adds, ulong Subs)? after, ulong added, ulong removed)
    {
        if (before is not { } b || after is not { } a || a != (b.Adds + added, b.Subs + removed))
            return;
        lock (s_lock)
        {
            if (s_generation == b)
                s_generation = a;
        }
    }

    /// <summary>
    /// The host's copy of a library by soname (or by path): if the process doesn't have it yet, it is
    /// <c>dlopen(name, RTLD_NOW|RTLD_LOCAL)</c>ed with the system loader first, and that handle stays open for the
    /// process lifetime. Null when the system loader can't load it either, with the dlerror text in
    /// <paramref name="error"/>.
    /// </summary>
    /// <param name="nameOrPath">A soname (<c>libz.so.1</c>), a file name, or a path (anything with a '/').</param>
    /// <param name="error">Null on success; else why the system loader could not load it.</param>
    /// <exception cref="ArgumentException"><paramref name="nameOrPath"/> is null or empty.</exception>
    public static HostModule? Get(string nameOrPath, out string? error)
    {
        ArgumentException.ThrowIfNullOrEmpty(nameOrPath);
        lock (s_lock)
        {
            if (Find(Enumerate(), nameOrPath) is { } present)
            {
                HoldOpen(present);
                error = null;
                return present;
            }

            nint handle = DynamicLinker.Open(nameOrPath, RtldFlags.RTLD_NOW | RtldFlags.RTLD_LOCAL, out error);
            if (handle == 0)
                return null;
            if (!DynamicLinker.TryGetLinkMap(handle, out _, out nint dynamic, out _, out error))
            {
                DynamicLinker.Close(handle, out _);
                return null;
            }
            // The name may have matched an object already loaded under another name (glibc also matches by file
            // identity), so the module is found by what the handle points to: its dynamic section.
            var module = FindByDynamicAddress(Enumerate(), dynamic);
            if (module is null)
            {
                DynamicLinker.Close(handle, out _);
                error = $"{nameOrPath}: dlopen succeeded, but dl_iterate_phdr does not list the object it loaded (l_ld 0x{dynamic:x})";
                return null;
            }
            Keep(module, handle);
            error = null;
            return module;
        }
    }

    /// <summary>The host module whose file has this device and inode, or null. It does not load anything.</summary>
    /// <param name="device">st_dev of the file.</param>
    /// <param name="inode">st_ino of the file.</param>
    public static HostModule? FindByFile(ulong device, ulong inode)
    {
        if (device == 0 && inode == 0)
            return null; // what a module without a file (the vDSO) reports: it matches no file
        lock (s_lock)
        {
            var modules = Enumerate();
            for (int i = 0; i < modules.Count; i++)
            {
                if (modules[i] is var module && module.Device == device && module.Inode == inode)
                {
                    HoldOpen(module);
                    return module;
                }
            }
            return null;
        }
    }

    /// <summary>
    /// The module the process already has under <paramref name="nameOrPath"/> (a DT_NEEDED string, a soname, a file
    /// name or a path), held open; null when it has none. Never loads anything: a name no module answers to by soname,
    /// path or file name is asked of the system loader with <c>RTLD_NOLOAD</c>, which also knows the names an object
    /// was loaded under and matches a file it finds by its identity, as when it resolved that DT_NEEDED itself.
    /// </summary>
    internal static HostModule? FindLoaded(string nameOrPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(nameOrPath);
        lock (s_lock)
        {
            var modules = Enumerate();
            var present = Find(modules, nameOrPath) ?? FindWithoutLoading(modules, nameOrPath);
            if (present is not null)
                HoldOpen(present);
            return present;
        }
    }

    /// <summary>The module <c>dlopen(nameOrPath, RTLD_NOLOAD)</c> answers with, or null; our temporary reference is
    /// given back.</summary>
    private static HostModule? FindWithoutLoading(IReadOnlyList<HostModule> modules, string nameOrPath)
    {
        nint handle = DynamicLinker.Open(nameOrPath, RtldFlags.RTLD_LAZY | RtldFlags.RTLD_LOCAL | RtldFlags.RTLD_NOLOAD, out _);
        if (handle == 0)
            return null;
        try
        {
            if (!DynamicLinker.TryGetLinkMap(handle, out _, out nint dynamic, out _, out _))
                return null;
            for (int i = 0; i < modules.Count; i++)
                if (LoadedDynamicAddress(modules[i]) == dynamic)
                    return modules[i];
            return null;
        }
        finally
        {
            DynamicLinker.Close(handle, out _);
        }
    }

    /// <summary>
    /// Reads a module while holding a reference on it, so another thread's dlclose cannot unmap it under the reader
    /// (dl_iterate_phdr's list is only stable while its callback runs). Null when it is gone already.
    /// </summary>
    private static HostModule? ReadWhileHeld(LoadedObject loaded, bool isMainProgram)
    {
        // The main program and the vDSO are never unloaded (and dlopen could not name them).
        if (isMainProgram || IsVdsoName(loaded.Name))
            return HostModule.Read(loaded, isMainProgram);
        nint handle = DynamicLinker.Open(loaded.Name, RtldFlags.RTLD_LAZY | RtldFlags.RTLD_LOCAL | RtldFlags.RTLD_NOLOAD, out _);
        if (handle == 0)
            return null;
        try
        {
            // The name must still lead to the object that was listed, not to one loaded since at another place.
            return DynamicLinker.TryGetLinkMap(handle, out nint loadBias, out _, out _, out _) && loadBias == loaded.Base
                ? HostModule.Read(loaded, isMainProgram)
                : null;
        }
        finally
        {
            DynamicLinker.Close(handle, out _); // our temporary reference only; Get and FindByFile keep their own
        }
    }

    /// <summary>The first module (in load order) that <paramref name="nameOrPath"/> names.</summary>
    private static HostModule? Find(IReadOnlyList<HostModule> modules, string nameOrPath)
    {
        // Indexed loops: a foreach over the interface would box an enumerator on every load.
        if (nameOrPath.Contains('/'))
        {
            for (int i = 0; i < modules.Count; i++)
                if (modules[i].Path == nameOrPath)
                    return modules[i];
            // Another path to a file the host has (a symlink, a different spelling): compare the files themselves.
            using var fd = FileDescriptor.OpenReadOnly(nameOrPath, out _);
            if (fd is null || !fd.TryGetStatus(out var status, out _))
                return null;
            for (int i = 0; i < modules.Count; i++)
                if (modules[i] is { IsVdso: false } m && m.Device == status.Device && m.Inode == status.Inode)
                    return m;
            return null;
        }
        for (int i = 0; i < modules.Count; i++)
            if (modules[i].SoName == nameOrPath)
                return modules[i];
        for (int i = 0; i < modules.Count; i++)
            if (modules[i] is { IsVdso: false } m && Path.GetFileName(m.Path.AsSpan()).SequenceEqual(nameOrPath))
                return m;
        return null;
    }

    /// <summary>
    /// Takes one dlopen reference on a module the process already has (<c>RTLD_NOLOAD</c>: never loads), so that a
    /// dlclose elsewhere cannot unmap memory we read in place. The main program and the vDSO are never unloaded.
    /// </summary>
    private static void HoldOpen(HostModule module)
    {
        if (module.IsMainProgram || module.IsVdso || s_handles.ContainsKey(LoadedDynamicAddress(module)))
            return;
        nint handle = DynamicLinker.Open(module.Path, RtldFlags.RTLD_LAZY | RtldFlags.RTLD_LOCAL | RtldFlags.RTLD_NOLOAD, out _);
        if (handle == 0)
            return; // not reachable by that name any more: nothing to hold, and nothing was loaded
        if (DynamicLinker.TryGetLinkMap(handle, out _, out nint dynamic, out _, out _) && dynamic == LoadedDynamicAddress(module))
            Keep(module, handle);
        else
            DynamicLinker.Close(handle, out _);
    }

    /// <summary>Keeps <paramref name="handle"/> for the process lifetime, or drops it when we hold one already.</summary>
    private static void Keep(HostModule module, nint handle)
    {
        if (!s_handles.TryAdd(LoadedDynamicAddress(module), handle))
            DynamicLinker.Close(handle, out _); // only our extra reference goes; the object stays
    }

    /// <summary>glibc's <c>l_ld</c>: where the module's dynamic section is in memory.</summary>
    private static nint LoadedDynamicAddress(HostModule module) => unchecked((nint)((ulong)module.Base + module.DynamicAddress));

    // Loops, not SequenceEqual and ToArray over ObjectKey: generic code over our own value type, which the JIT would
    // compile on the first load.
    private static bool SameKeys(ObjectKey[] known, ObjectKey[] walked, int count)
    {
        if (known.Length != count)
            return false;
        for (int i = 0; i < count; i++)
            if (!known[i].Equals(walked[i]))
                return false;
        return true;
    }

    /// <summary>The module the last enumeration read from <paramref name="key"/>'s object, or null. The search starts
    /// where the object stood last time if the list has not changed before it (<paramref name="expected"/>: how many
    /// modules this walk has taken so far) and goes round once: objects keep their order (a load appends, an unload
    /// removes), so a walk of n objects compares about n keys rather than n²/2 — in a process with hundreds of objects
    /// after each dlopen or dlclose elsewhere.</summary>
    private static HostModule? ReadBefore(ObjectKey key, int expected)
    {
        int count = s_keys.Length;
        int start = expected < count ? expected : 0;
        for (int k = 0; k < count; k++)
        {
            int i = start + k < count ? start + k : start + k - count;
            if (s_keys[i].Equals(key))
                return s_modules[i];
        }
        return null;
    }

    // A loop, not FirstOrDefault with a lambda: the closure, the Func and System.Linq would be loaded on every first
    // load (the closure is made when Get is entered).
    private static HostModule? FindByDynamicAddress(IReadOnlyList<HostModule> modules, nint dynamic)
    {
        for (int i = 0; i < modules.Count; i++)
            if (LoadedDynamicAddress(modules[i]) == dynamic)
                return modules[i];
        return null;
    }

    // The vDSO's dlpi_name is its soname ("linux-vdso.so.1"); every object the system loader opened from a file is
    // named by a path, which has a '/'.
    private static bool IsVdsoName(string name) => name.Length > 0 && !name.Contains('/');

    private readonly record struct ObjectKey(nint Base, nint ProgramHeaders, string Name)
    {
        // Written out: the generated members compare the addresses through EqualityComparer<nint>.Default, which the
        // runtime makes on first use and the JIT compiles (docs/benchmarks.md, "Cold start").
        public bool Equals(ObjectKey other) =>
            Base == other.Base && ProgramHeaders == other.ProgramHeaders && string.Equals(Name, other.Name, StringComparison.Ordinal);

        public override int GetHashCode() => HashCode.Combine((long)Base, (long)ProgramHeaders, Name);
    }
}
