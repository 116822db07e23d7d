using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary>
/// Loader's own server of dynamic TLS blocks (<c>tls_server.c</c>, compiled into <see cref="TlsServerCode"/>): a
/// module whose block need not be in static TLS gets a slot here instead of a glibc-loaded carrier, and the modules
/// Loader maps call its entry (what <see cref="Make"/> returns) for <c>__tls_get_addr</c>; it passes every ID without
/// <see cref="ModuleIdMark"/> to glibc's. Made once per process, on first use: one read-execute page of code (written
/// while read-write, never both), the slots' data in native memory, and one pthread key whose destructor frees an exiting
/// thread's blocks. Never torn down: code anywhere may call the entry until the process ends.
/// </summary>
internal static unsafe partial class TlsServer
{
    /// <summary>The upper half of a served module ID; the lower half is the slot.</summary>
    public const ulong ModuleIdMark = 0x4c4f4144UL << 32; // "LOAD": far above any ID glibc counts up to

    /// <summary>How many slots there are: blocks served at once. A module that finds none free gets a carrier.</summary>
    public const int SlotCount = 4096;

    // struct server in tls_server.c: the key, nine function pointers, the static table slot's offset, five reserved
    // words, then the slots.
    private const int FunctionCount = 9;
    private const int HeaderWords = 16;
    private const int SlotWords = 8;

    private static readonly Lock s_lock = new();
    private static ulong* s_data;
    private static nint s_code;
    private static bool s_failed;
    private static ulong s_generation;
    private static int s_slotsMade;
    private static readonly Stack<int> s_freeSlots = new();

    /// <summary>Loader's <c>__tls_get_addr</c>, the server made if it is not yet; 0 when it cannot be made (then
    /// dynamic blocks are carried by glibc, as before). <paramref name="staticTableSlot"/> is asked once, when the
    /// server is made, for a static TLS slot of 8 bytes (its offset from the thread pointer, or 0 for none), where each
    /// thread's table pointer is then kept beside the key: the fast path reads it with one load instead of a call.</summary>
    public static nint Make(Func<long> staticTableSlot)
    {
        lock (s_lock)
            return EnsureMade(staticTableSlot) ? s_code + TlsServerCode.GetAddrOffset : 0;
    }

    /// <summary>The entry <see cref="Make"/> returns if the server has been made, else 0: what a module that serves no block itself
    /// binds <c>__tls_get_addr</c> to, so that it can still reach a served block of another module.</summary>
    public static nint GetAddrIfMade
    {
        get
        {
            lock (s_lock)
                return s_data is null ? 0 : s_code + TlsServerCode.GetAddrOffset;
        }
    }

    /// <summary>
    /// A slot for a block of <paramref name="size"/> bytes aligned to <paramref name="alignment"/>, filled in each thread
    /// from the <paramref name="imageSize"/> bytes at <paramref name="image"/> (the module's relocated <c>.tdata</c>,
    /// mapped until <see cref="Release"/>) and zeros: its module ID, or 0 when the server is not made or every slot
    /// is taken.
    /// </summary>
    public static ulong Serve(nint image, ulong imageSize, ulong size, ulong alignment)
    {
        ulong align = Math.Max(alignment, 16);
        ulong dataOffset = Math.Max(16, align); // after the block's generation and size words
        ulong blockSize = (dataOffset + size + align - 1) & ~(align - 1);
        lock (s_lock)
        {
            if (s_data is null)
                return 0; // not made (Make), or it could not be
            int slot;
            if (s_freeSlots.Count > 0)
                slot = s_freeSlots.Pop();
            else if (s_slotsMade < SlotCount)
                slot = s_slotsMade++;
            else
                return 0;
            ulong* s = Slot(slot);
            s[1] = dataOffset;
            s[2] = (ulong)image;
            s[3] = imageSize;
            s[4] = size;
            s[5] = align;
            s[6] = blockSize;
            // Last: a thread that still holds a block from the slot's earlier module fills it again before using it.
            Volatile.Write(ref s[0], ++s_generation);
            return ModuleIdMark | (uint)slot;
        }
    }

    /// <summary>Takes a module's slot back: every thread's block of it goes stale, to be filled again (or freed at
    /// the thread's exit). The module's code must no longer run.</summary>
    public static void Release(ulong moduleId)
    {
        int slot = (int)(uint)moduleId;
        lock (s_lock)
        {
            ulong* s = Slot(slot);
            Volatile.Write(ref s[0], ++s_generation);
            s[2] = 0; // the image is about to be unmapped
            s_freeSlots.Push(slot);
        }
    }

    /// <summary>How many slots serve a module now.</summary>
    public static int SlotsInUse
    {
        get
        {
            lock (s_lock)
                return s_slotsMade - s_freeSlots.Count;
        }
    }

    /// <summary>Whether <paramref name="moduleId"/> is one of the server's.</summary>
    public static bool IsServed(ulong moduleId) => (moduleId & 0xffff_ffff_0000_0000) == ModuleIdMark;

    private static ulong* Slot(int slot) => s_data + HeaderWords + slot * SlotWords;

    private static bool EnsureMade(Func<long> staticTableSlot)
    {
        if (s_data is not null)
            return true;
        if (s_failed)
            return false;
        s_failed = true; // until it succeeds: a server that cannot be made is not tried again
        nint[] functions = new nint[FunctionCount];
        string[] names = ["pthread_getspecific", "pthread_setspecific", "aligned_alloc", "realloc", "free", "memcpy",
            "memset", "abort", "__tls_get_addr"];
        for (int i = 0; i < names.Length; i++)
        {
            if ((functions[i] = DynamicLinker.Symbol(0, names[i], out _)) == 0)
                return false;
        }
        var data = (ulong*)NativeMemory.AllocZeroed((nuint)(HeaderWords + SlotCount * SlotWords), sizeof(ulong));
        Span<byte> code = stackalloc byte[TlsServerCode.Bytes.Length];
        TlsServerCode.Bytes.CopyTo(code);
        int patched = 0;
        for (int at = 0; at + 8 <= code.Length; at++)
        {
            if (BitConverter.ToUInt64(code[at..]) == TlsServerCode.DataPlaceholder)
            {
                BitConverter.TryWriteBytes(code[at..], (ulong)data);
                patched++;
            }
        }
        nint page;
        try
        {
            page = patched == 2 ? ExecutablePage.Create(code, "the TLS server") : 0; // both entry stubs, or a stale blob
        }
        catch (LoaderException)
        {
            page = 0;
        }
        if (page == 0)
        {
            NativeMemory.Free(data);
            return false;
        }
        uint key;
        if (pthread_key_create(&key, page + TlsServerCode.ReleaseThreadOffset) != 0)
        {
            NativeMemory.Free(data); // the page stays: nothing points at it, and one page is not worth an munmap path
            return false;
        }
        data[0] = key;
        for (int i = 0; i < FunctionCount; i++)
            data[1 + i] = (ulong)functions[i];
        // Before any thread has a table: one that found its table only through the key would start a second one.
        data[1 + FunctionCount] = (ulong)staticTableSlot();
        s_code = page;
        s_failed = false;
        s_data = data;
        return true;
    }

    // int pthread_key_create(pthread_key_t *key, void (*destructor)(void *)); pthread_key_t is an unsigned int.
    [LibraryImport("libc.so.6")]
    private static partial int pthread_key_create(uint* key, nint destructor);
}
