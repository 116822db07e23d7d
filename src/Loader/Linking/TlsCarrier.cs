using System.Buffers.Binary;
using Loader.Elf;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// A Loader module's TLS block, served by glibc: the module's <see cref="TlsCarrierImage"/> written to a memfd and
/// <c>dlopen</c>ed, so glibc allocates, initializes and frees the block in every thread, and its own
/// <c>__tls_get_addr</c> knows the module ID. The memfd stays open until the carrier's <c>dlclose</c>.
/// </summary>
internal sealed class TlsCarrier : TlsBlockOwner
{
    private readonly FileDescriptor _memfd;
    private nint _handle;
    private readonly nint _loadBias;

    // The load bias of every carrier loaded now (keys; the values are unused), for HostModules, which leaves them out
    // of the host's libraries: glibc lists them among its objects, but they are Loader's, define no symbol, and each
    // one's dlopen would otherwise be a change of the host's list.
    private static readonly AddressMap s_live = new();
    private static readonly Lock s_liveLock = new();

    private TlsCarrier(FileDescriptor memfd, nint handle, nint loadBias, TlsBlock block)
    {
        _memfd = memfd;
        _handle = handle;
        _loadBias = loadBias;
        Block = block;
    }

    /// <summary>How many carriers are loaded now.</summary>
    public static int LiveCount
    {
        get
        {
            lock (s_liveLock)
                return s_live.Count;
        }
    }

    /// <summary>Whether the object glibc loaded at <paramref name="loadBias"/> is one of Loader's carriers now.</summary>
    public static bool IsCarrierAt(nint loadBias)
    {
        lock (s_liveLock)
            return s_live.ContainsKey(loadBias);
    }

    public override TlsBlock Block { get; }

    /// <summary>
    /// A static block of <paramref name="size"/> zero bytes for the rest of the process: Loader's own (its TLS server's
    /// table pointer). It is never dlclosed and its memfd stays open (a descriptor of the process for good: closed, its
    /// number could come back to a later carrier, whose name glibc would then take for this one's). Null when glibc
    /// cannot place it in static TLS.
    /// </summary>
    public static TlsCarrier? LoadForProcess(string owner, ulong size)
    {
        var tls = new ProgramHeader(SegmentType.Tls, SegmentFlags.Read, 0, 0, 0, size, size, 8);
        try
        {
            return Load(owner, tls, new byte[size], staticTls: true);
        }
        catch (LoaderException)
        {
            return null;
        }
    }

    /// <summary>
    /// Builds and loads the carrier of <paramref name="modulePath"/>'s PT_TLS from its relocated image. glibc copies
    /// the image into running threads during <c>dlopen</c> and into each new thread at its creation, so the image must
    /// be final (non-TLS relocations applied) and is never changed afterwards.
    /// </summary>
    /// <exception cref="LoaderException">glibc refused the block: for static TLS, in its words, "cannot allocate
    /// memory in static TLS block" (the surplus is used up, or <c>p_align</c> is larger than static TLS allows).</exception>
    public static TlsCarrier Load(string modulePath, ProgramHeader tls, ReadOnlySpan<byte> image, bool staticTls)
    {
        var bytes = TlsCarrierImage.Build(tls, image, staticTls);
        // Memfd.Create cuts a name past the kernel's limit itself.
        var memfd = Memfd.Create("loader-tls:" + Path.GetFileName(modulePath), bytes, out int errno, out string call);
        if (memfd is null)
            ThrowHelper.ImageLoad(modulePath, call, errno, $"{modulePath}: {call} for the TLS carrier failed: {Errno.Describe(errno)}");
        try
        {
            // /proc/<pid>/fd/N, not /proc/self/fd/N: glibc compares names before it opens anything, so a reused fd
            // number under /proc/self would silently return an older carrier, and the pid makes each name one
            // gdb can open from outside.
            string path = $"/proc/{Environment.ProcessId}/fd/{memfd.Value}";
            var before = DynamicLinker.Generation();
            nint handle = DynamicLinker.Open(path, RtldFlags.RTLD_NOW | RtldFlags.RTLD_LOCAL, out string? error);
            // Seen once in a process that had loaded and unloaded hundreds of carriers: dlopen failed and dlerror had
            // no message. The carrier is unchanged, so asking again gives glibc's reason (or the same failure).
            if (handle == 0 && error == DynamicLinker.OpenFailedWithoutMessage)
                handle = DynamicLinker.Open(path, RtldFlags.RTLD_NOW | RtldFlags.RTLD_LOCAL, out error);
            if (handle == 0)
                ThrowHelper.Refused(modulePath, $"{modulePath}: PT_TLS (0x{tls.MemorySize:x} bytes, aligned 0x{tls.Alignment:x}, " +
                    $"{(staticTls ? "static" : "dynamic")}): {GlibcWords(error, path)}");
            try
            {
                if (!DynamicLinker.TryGetLoadBias(handle, out nint bias))
                    ThrowHelper.Refused(modulePath, $"{modulePath}: dlinfo(RTLD_DI_LINKMAP) of the TLS carrier failed");
                var carrier = new TlsCarrier(memfd, handle, bias, ReadBlock(modulePath, handle, bias, tls, staticTls));
                lock (s_liveLock)
                    s_live.Set(bias, 1);
                // The carrier (no DT_NEEDED: one object) is all this dlopen added; the host's libraries did not change.
                HostModules.AcceptOwnChange(before, DynamicLinker.Generation(), added: 1, removed: 0);
                return carrier;
            }
            catch
            {
                DynamicLinker.Close(handle, out _);
                throw;
            }
        }
        catch
        {
            memfd.Dispose();
            throw;
        }
    }

    /// <summary>dlcloses the carrier (glibc frees the block in each thread, lazily) and closes its memfd. Once.</summary>
    public override void Dispose()
    {
        if (_handle == 0)
            return;
        // Off the list first: an object glibc loads at the same place after the dlclose is not a carrier.
        lock (s_liveLock)
            s_live.RemoveRange(_loadBias, _loadBias + 1);
        var before = DynamicLinker.Generation();
        DynamicLinker.Close(_handle, out _);
        HostModules.AcceptOwnChange(before, DynamicLinker.Generation(), added: 0, removed: 1);
        _handle = 0;
        _memfd.Dispose();
    }

    private static TlsBlock ReadBlock(string modulePath, nint handle, nint bias, ProgramHeader tls, bool staticTls)
    {
        if (!DynamicLinker.TryGetTlsModuleId(handle, out ulong moduleId, out string? error) || moduleId == 0)
            ThrowHelper.Refused(modulePath, $"{modulePath}: glibc gave the TLS carrier no module ID: {error ?? "RTLD_DI_TLS_MODID is 0"}");
        long? offset = null;
        if (staticTls)
        {
            // dlinfo(RTLD_DI_TLS_DATA) is NULL until this thread touches the block; the relocated TPOFF64 slot is not.
            var slot = BorrowedMemory.Describe(bias + (nint)TlsCarrierImage.StaticOffsetSlot, 8).Span;
            offset = BinaryPrimitives.ReadInt64LittleEndian(slot);
        }
        return new TlsBlock(moduleId, tls.MemorySize, tls.FileSize, Math.Max(tls.Alignment, 1),
            staticTls ? TlsModel.Static : TlsModel.Dynamic, offset);
    }

    // glibc names the carrier by its /proc path; the message is about the module, in glibc's words.
    private static string GlibcWords(string? error, string path) =>
        (error ?? "dlopen failed without a message").Replace(path + ": ", "", StringComparison.Ordinal);
}
