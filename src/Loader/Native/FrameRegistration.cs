using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary>
/// libgcc's frame registry, so that its unwinder (C++ exceptions, <c>backtrace</c>, <c>_Unwind_Backtrace</c>) finds
/// the FDEs of images Loader mapped, which <c>dl_iterate_phdr</c> does not list. Imported from libgcc_s.so.1, which
/// the process already has (glibc's <c>backtrace</c> and the runtime load it), by its full name like libc.so.6. Not
/// the <c>_info</c> variants: their <c>struct object</c> is libgcc's private layout; these allocate it themselves.
/// Two forms: <see cref="Register"/> names the table itself, and libgcc reads its first word at registration and at
/// deregistration; <see cref="RegisterThroughArray"/> names a two-word array of ours that points to it, and libgcc up to
/// version 12 then reads nothing of the table until an unwind needs it (docs/architecture.md, "Unwinding and debugging").
/// </summary>
internal static unsafe partial class FrameRegistration
{
    [LibraryImport("libgcc_s.so.1", EntryPoint = "__register_frame")]
    private static partial void register_frame(nint begin);

    [LibraryImport("libgcc_s.so.1", EntryPoint = "__register_frame_table")]
    private static partial void register_frame_table(nint begin);

    [LibraryImport("libgcc_s.so.1", EntryPoint = "__deregister_frame")]
    private static partial void deregister_frame(nint begin);

    /// <summary>
    /// Registers the <c>.eh_frame</c> that starts at <paramref name="ehFrame"/> (an absolute address, its entries
    /// ending with a zero-length terminator the caller checked). libgcc reads its first word now, the rest on the
    /// first lookup after.
    /// </summary>
    public static void Register(nint ehFrame) => register_frame(ehFrame);

    /// <summary>
    /// Takes it off again. The address must be exactly the one registered and be registered: libgcc aborts the
    /// process (<c>gcc_assert</c>) when it finds no object for it.
    /// </summary>
    public static void Deregister(nint ehFrame) => deregister_frame(ehFrame);

    /// <summary>
    /// Registers the <c>.eh_frame</c> at <paramref name="ehFrame"/> through a null-terminated array of table
    /// addresses (<c>__register_frame_table</c>, what crtstuff's array form uses): libgcc keeps the array's address
    /// and reads the table only when an unwind searches it. Returns the array, to give to
    /// <see cref="DeregisterThroughArray"/>. Only for a libgcc that keeps its objects in lists (up to 12): later ones
    /// keep a b-tree keyed by the table's address range, and their deregistration reads the array as if it were a
    /// table (the caller decides, <c>Linking.LibgccRegistry</c>).
    /// </summary>
    public static nint RegisterThroughArray(nint ehFrame)
    {
        var array = (nint*)NativeMemory.Alloc(2, (nuint)sizeof(nint));
        array[0] = ehFrame;
        array[1] = 0;
        register_frame_table((nint)array);
        return (nint)array;
    }

    /// <summary>
    /// Takes the array's registration off (libgcc 12's <c>__deregister_frame</c> reads the array's first word, finds
    /// the object whose array it is, and frees it), then frees the array.
    /// </summary>
    public static void DeregisterThroughArray(nint array)
    {
        deregister_frame(array);
        NativeMemory.Free((void*)array);
    }
}
