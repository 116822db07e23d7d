using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary>
/// libgcc's frame registry: <c>__register_frame</c> and <c>__deregister_frame</c>, so that its unwinder (C++
/// exceptions, <c>backtrace</c>, <c>_Unwind_Backtrace</c>) finds the FDEs of images Loader mapped, which
/// <c>dl_iterate_phdr</c> does not list. Imported from libgcc_s.so.1, which the
/// process already has (glibc's <c>backtrace</c> and the runtime load it), by its full name like libc.so.6. Not the
/// <c>_info</c> variants: their <c>struct object</c> is libgcc's private layout; these two allocate it themselves.
/// </summary>
internal static partial class FrameRegistration
{
    [LibraryImport("libgcc_s.so.1", EntryPoint = "__register_frame")]
    private static partial void register_frame(nint begin);

    [LibraryImport("libgcc_s.so.1", EntryPoint = "__deregister_frame")]
    private static partial void deregister_frame(nint begin);

    /// <summary>
    /// Registers the <c>.eh_frame</c> that starts at <paramref name="ehFrame"/> (an absolute address, its entries
    /// ending with a zero-length terminator the caller checked). libgcc reads it lazily, on the first lookup after.
    /// </summary>
    public static void Register(nint ehFrame) => register_frame(ehFrame);

    /// <summary>
    /// Takes it off again. The address must be exactly the one registered and be registered: libgcc aborts the
    /// process (<c>gcc_assert</c>) when it finds no object for it.
    /// </summary>
    public static void Deregister(nint ehFrame) => deregister_frame(ehFrame);
}
