using System.Runtime.InteropServices;

namespace Loader.Native;

/// <summary>
/// Where Loader binds a loaded image's <c>__cxa_thread_atexit</c> (and <c>__cxa_thread_atexit_impl</c>): the C++ ABI's
/// registration of a <c>thread_local</c> object's destructor. glibc pins the object that owns a destructor by the
/// address it is given (<c>_dl_find_dso_for_object</c>), finds no link map for an image Loader mapped, and pins the
/// main program instead, so unloading the image would leave a destructor to be called in unmapped memory at the
/// thread's exit. The shim counts each destructor against its image (<see cref="ThreadExitTracker"/>) and hands
/// glibc a native trampoline that calls it, then counts it off; the image is kept mapped until the count is 0.
/// </summary>
internal static unsafe partial class ThreadExitShim
{
    [LibraryImport("libc.so.6", EntryPoint = "__cxa_thread_atexit_impl")]
    private static partial int cxa_thread_atexit_impl(nint destructor, nint obj, nint dsoSymbol);

    private static readonly Lock s_lock = new();
    private static readonly List<ThreadExitTracker> s_trackers = [];

    // The trampoline glibc calls at thread exit with the record { destructor, object, counter* }: it calls the
    // destructor, decrements the counter (the last touch of the image's state), frees the record, and returns to glibc.
    //   push rbx; mov rbx, rdi; mov rdi, [rbx+8]; call [rbx]; mov rax, [rbx+16]; lock dec qword [rax]
    //   mov rdi, rbx; movabs rax, free (patched in); call rax; pop rbx; ret
    private static ReadOnlySpan<byte> TrampolineCode =>
    [
        0x53, 0x48, 0x89, 0xfb, 0x48, 0x8b, 0x7b, 0x08, 0xff, 0x13, 0x48, 0x8b, 0x43, 0x10, 0xf0, 0x48, 0xff, 0x08,
        0x48, 0x89, 0xdf, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xd0, 0x5b, 0xc3,
    ];
    private const int FreeAt = 0x17;

    private static readonly Lazy<nint> s_trampoline = new(CreateTrampoline, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The shim's address: what a loaded image's reference to <c>__cxa_thread_atexit</c> is bound to.</summary>
    public static nint Address => (nint)(delegate* unmanaged<nint, nint, nint, int>)&AtExit;

    /// <summary>Counts destructors registered from code or data inside <paramref name="range"/>.</summary>
    public static ThreadExitTracker Track(Mapping.AddressRange range)
    {
        _ = s_trampoline.Value; // made now, under the load, so a failure is a load error and not one inside C++ code
        var tracker = new ThreadExitTracker(range);
        lock (s_lock)
            s_trackers.Add(tracker);
        return tracker;
    }

    internal static void Untrack(ThreadExitTracker tracker)
    {
        lock (s_lock)
            s_trackers.Remove(tracker);
    }

    // int __cxa_thread_atexit(void (*dtor)(void *), void *obj, void *dso_symbol): called by the image's own code,
    // on whichever thread first touches a thread_local; the managed transition is on this registration only.
    [UnmanagedCallersOnly]
    private static int AtExit(nint destructor, nint obj, nint dsoSymbol)
    {
        ThreadExitTracker? owner = null;
        lock (s_lock)
        {
            foreach (var tracker in s_trackers)
                if (tracker.Range.Overlaps(dsoSymbol, dsoSymbol + 1) || tracker.Range.Overlaps(destructor, destructor + 1))
                    owner = tracker;
        }
        if (owner is null)
            return cxa_thread_atexit_impl(destructor, obj, dsoSymbol); // not an image of ours: glibc's own rules
        var record = (nint*)NativeMemory.Alloc(3, (nuint)sizeof(nint));
        record[0] = destructor;
        record[1] = obj;
        record[2] = (nint)owner.Counter;
        Interlocked.Increment(ref *owner.Counter);
        // Pinned to the trampoline's page, which no link map holds: glibc pins the main program, which never unloads.
        int result = cxa_thread_atexit_impl(s_trampoline.Value, (nint)record, s_trampoline.Value);
        if (result != 0)
        {
            Interlocked.Decrement(ref *owner.Counter);
            NativeMemory.Free(record);
        }
        return result;
    }

    private static nint CreateTrampoline()
    {
        nint free = ExecutablePage.HostFunction("free", "the thread-exit trampoline");
        Span<byte> code = stackalloc byte[TrampolineCode.Length];
        TrampolineCode.CopyTo(code);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(code[FreeAt..], free);
        return ExecutablePage.Create(code, "the thread-exit trampoline");
    }
}

/// <summary>
/// The <c>thread_local</c> destructors an image still owes: a counter in native memory (the trampoline decrements it
/// at each thread's exit, from native code) and the image's range. Disposed when the image is finally unmapped.
/// </summary>
internal sealed unsafe class ThreadExitTracker : IDisposable
{
    internal ThreadExitTracker(Mapping.AddressRange range)
    {
        Range = range;
        Counter = (long*)NativeMemory.AllocZeroed(1, sizeof(long));
    }

    internal Mapping.AddressRange Range { get; }

    internal long* Counter { get; private set; }

    /// <summary>How many registered destructors have not run yet.</summary>
    public long Pending => Counter is null ? 0 : Volatile.Read(ref *Counter);

    /// <summary>Stops tracking; the counter is freed, so call it only when <see cref="Pending"/> is 0.</summary>
    public void Dispose()
    {
        if (Counter is null)
            return;
        ThreadExitShim.Untrack(this);
        NativeMemory.Free(Counter);
        Counter = null;
    }
}
