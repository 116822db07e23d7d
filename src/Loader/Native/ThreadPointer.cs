using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary>The calling thread's thread pointer (the <c>%fs</c> base), from which static TLS offsets count.</summary>
internal static partial class ThreadPointer
{
    // glibc on x86_64 keeps struct pthread at the thread pointer and returns that address from pthread_self (its
    // THREAD_SELF reads %fs:0x10, the TCB's self-pointer): the one public way to read %fs from managed code.
    [LibraryImport("libc.so.6", EntryPoint = "pthread_self")]
    private static partial nint pthread_self();

    /// <summary>The calling thread's thread pointer.</summary>
    public static nint Current => pthread_self();
}
