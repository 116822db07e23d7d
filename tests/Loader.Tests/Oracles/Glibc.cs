using System.Runtime.InteropServices;

namespace Loader.Tests.Oracles;

/// <summary>glibc's dynamic linker, called directly (not through Loader), as the oracle.</summary>
internal static unsafe partial class Glibc
{
    private const int RTLD_NOW = 2, RTLD_LOCAL = 0, RTLD_NOLOAD = 4, RTLD_DI_LINKMAP = 2, RTLD_DI_TLS_MODID = 9, RTLD_DI_TLS_DATA = 10;

    [LibraryImport("libc", EntryPoint = "pthread_self")]
    private static partial nint pthread_self();

    /// <summary>The calling thread's thread pointer (glibc on x86_64 returns it from <c>pthread_self</c>).</summary>
    public static nint ThreadPointer() => pthread_self();

    /// <summary><c>dlinfo(RTLD_DI_TLS_MODID)</c>: glibc's TLS module ID of the object (0: none).</summary>
    public static ulong TlsModuleId(nint handle)
    {
        nint id = 0;
        return dlinfo(handle, RTLD_DI_TLS_MODID, &id) == 0 ? (ulong)id : throw new InvalidOperationException(LastError());
    }

    /// <summary><c>dlinfo(RTLD_DI_TLS_DATA)</c>: the calling thread's TLS block of the object, or 0 if it has none yet.</summary>
    public static nint TlsBlock(nint handle)
    {
        nint block = 0;
        return dlinfo(handle, RTLD_DI_TLS_DATA, &block) == 0 ? block : throw new InvalidOperationException(LastError());
    }

    [LibraryImport("libc", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint dlopen(string file, int mode);

    [LibraryImport("libc", EntryPoint = "dlclose")]
    private static partial int dlclose(nint handle);

    [LibraryImport("libc", EntryPoint = "dlerror")]
    private static partial nint dlerror();

    [LibraryImport("libc", EntryPoint = "dlinfo")]
    private static partial int dlinfo(nint handle, int request, nint* info);

    [LibraryImport("libc", EntryPoint = "dlsym", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint dlsym(nint handle, string name);

    [LibraryImport("libc", EntryPoint = "dlvsym", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint dlvsym(nint handle, string name, string version);

    [LibraryImport("libc", EntryPoint = "dladdr")]
    private static partial int dladdr(nint address, DlInfo* info);

    [LibraryImport("libc", EntryPoint = "dl_iterate_phdr")]
    private static partial int dl_iterate_phdr(delegate* unmanaged<nint, nuint, nint, int> callback, nint data);

    /// <summary><c>dlopen(path, RTLD_NOW | RTLD_LOCAL)</c>: a handle, or 0 (then see <see cref="LastError"/>).</summary>
    public static nint Open(string path) => dlopen(path, RTLD_NOW | RTLD_LOCAL);

    /// <summary><c>dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)</c>: a handle, or 0.</summary>
    public static nint OpenNoDelete(string path) => dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);

    private const int RTLD_NODELETE = 0x1000;

    /// <summary><c>dlclose</c>: 0 on success.</summary>
    public static int Close(nint handle) => dlclose(handle);

    /// <summary><c>dlerror()</c>: the last failure's message, or null.</summary>
    public static string? LastError() => Marshal.PtrToStringUTF8(dlerror());

    /// <summary>The load bias glibc chose for <paramref name="handle"/>'s object (its link map's l_addr).</summary>
    public static nint LoadBias(nint handle)
    {
        nint linkMap;
        if (dlinfo(handle, RTLD_DI_LINKMAP, &linkMap) != 0)
            throw new Xunit.Sdk.XunitException($"dlinfo(RTLD_DI_LINKMAP): {LastError()}");
        return *(nint*)linkMap; // struct link_map: l_addr first
    }

    /// <summary>The file name glibc opened for <paramref name="handle"/>'s object (its link map's l_name).</summary>
    public static string LinkMapName(nint handle)
    {
        nint linkMap;
        if (dlinfo(handle, RTLD_DI_LINKMAP, &linkMap) != 0)
            throw new Xunit.Sdk.XunitException($"dlinfo(RTLD_DI_LINKMAP): {LastError()}");
        return Marshal.PtrToStringUTF8(*(nint*)(linkMap + 8)) ?? ""; // struct link_map: l_addr, then l_name
    }

    /// <summary>A handle on a library glibc already has (RTLD_NOLOAD), or 0. The reference it takes is never dropped.</summary>
    public static nint OpenLoaded(string soname) => dlopen(soname, RTLD_NOW | RTLD_NOLOAD);

    public static nint Symbol(nint handle, string name) => dlsym(handle, name);

    /// <summary>
    /// Keeps <paramref name="host"/>'s object loaded while a test reads it in place (its tables, program headers and
    /// dynamic section lie in the object's own memory): another test may dlclose a library it dlopened, which would
    /// unmap it under the read (SIGSEGV). A reference is taken with <c>RTLD_NOLOAD</c> and given back with
    /// <see cref="Close"/>. False when the object is gone, or another object is loaded under its path now (skip it
    /// then); <paramref name="pin"/> is 0 for what is never unloaded, the main program and the vDSO.
    /// </summary>
    public static bool TryPin(Loader.Linking.HostModule host, out nint pin)
    {
        pin = 0;
        if (host.Path.Length == 0 || host.Path == "/proc/self/exe")
            return true;
        pin = OpenLoaded(host.Path);
        if (pin == 0)
            return false;
        if (LoadBias(pin) == host.Base)
            return true;
        Close(pin);
        pin = 0;
        return false;
    }

    public static nint VersionedSymbol(nint handle, string name, string version) => dlvsym(handle, name, version);

    public static (string? FileName, nint FileBase, nint SymbolAddress) AddressInfo(nint address)
    {
        DlInfo info;
        // dladdr returns non-zero on success and 0 on failure (the opposite of most calls).
        if (dladdr(address, &info) == 0)
            throw new Xunit.Sdk.XunitException($"dladdr: 0x{address:x} is in no loaded object");
        return (Marshal.PtrToStringUTF8(info.FileName), info.FileBase, info.SymbolAddress);
    }

    private static int s_count;

    public static int CountObjects()
    {
        s_count = 0;
        dl_iterate_phdr(&Count, 0);
        return s_count;
    }

    [UnmanagedCallersOnly]
    private static int Count(nint info, nuint size, nint data)
    {
        s_count++;
        return 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct DlInfo
    {
        public nint FileName;
        public nint FileBase;
        public nint SymbolName;
        public nint SymbolAddress;
    }
}
