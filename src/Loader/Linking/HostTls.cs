using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// The TLS of a host library (libc's <c>errno</c>, libstdc++'s <c>std::__once_callable</c>) as a Loader module's
/// relocations need it: glibc's module ID (<c>dlinfo(RTLD_DI_TLS_MODID)</c>), and, when glibc put the block in static
/// TLS, its offset from the thread pointer. Asked once per host module: neither changes while the module is loaded,
/// and host modules stay loaded.
/// </summary>
internal static class HostTls
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<HostModule, (ulong ModuleId, long? StaticOffset)> s_known = [];

    /// <summary>The host module's TLS module ID, or 0 when it has no PT_TLS.</summary>
    public static ulong ModuleId(HostModule host) => Get(host).ModuleId;

    /// <summary>The block's offset from the thread pointer when it is in static TLS (the same in every thread), else null.</summary>
    public static long? StaticOffset(HostModule host) => Get(host).StaticOffset;

    private static (ulong ModuleId, long? StaticOffset) Get(HostModule host)
    {
        lock (s_lock)
        {
            if (s_known.TryGetValue(host, out var known))
                return known;
            nint handle = host.IsMainProgram ? DynamicLinker.Open(null, RtldFlags.RTLD_LAZY, out _)
                : DynamicLinker.Open(host.Path, RtldFlags.RTLD_LAZY | RtldFlags.RTLD_LOCAL | RtldFlags.RTLD_NOLOAD, out _);
            if (handle == 0)
                return (0, null); // not reachable by name (the vDSO): it has no TLS either
            try
            {
                DynamicLinker.TryGetTlsModuleId(handle, out ulong moduleId, out _);
                var result = (moduleId, moduleId == 0 ? null : FindStaticOffset(handle));
                s_known[host] = result;
                return result;
            }
            finally
            {
                DynamicLinker.Close(handle, out _);
            }
        }
    }

    /// <summary>
    /// A static block lies at the same offset from the thread pointer in every thread; a dynamic one is allocated per
    /// thread wherever malloc puts it, and a thread that has not used it has none. So the block is static when this
    /// thread and a new one both have it, at the same offset — asked through public calls only, where glibc's own
    /// <c>l_tls_offset</c> is private.
    /// </summary>
    private static long? FindStaticOffset(nint handle)
    {
        long? here = OffsetOnThisThread(handle);
        if (here is null)
            return null;
        long? there = null;
        var probe = new Thread(() => there = OffsetOnThisThread(handle)) { IsBackground = true, Name = "Loader TLS probe" };
        probe.Start();
        probe.Join();
        return here == there ? here : null;
    }

    private static long? OffsetOnThisThread(nint handle)
    {
        nint block = DynamicLinker.TlsBlockOfThisThread(handle);
        return block == 0 ? null : (long)block - (long)ThreadPointer.Current;
    }
}
