using System.Runtime.InteropServices;
using Loader.Native;

namespace Loader.Tests.Linking;

/// <summary>
/// <c>thread_local</c> destructors (<c>__cxa_thread_atexit</c>): a library unloaded while a thread still owes it one
/// stays mapped until the thread has exited and the destructor has run in it; then it goes. Without that, glibc would
/// call the destructor in unmapped memory at the thread's exit and the test host would crash.
/// </summary>
[Collection("AddressSpace")]
public sealed unsafe class ThreadLocalDestructorTests
{
    [Fact]
    public void An_image_stays_mapped_until_the_destructors_its_threads_owe_have_run()
    {
        string path = Fixtures.Path("cxx/libcxx_thread_local.so");
        var context = new LoaderContext();
        var counter = (int*)NativeMemory.AllocZeroed(sizeof(int));
        int[] pipe = new int[2];
        Assert.Equal(0, Pipe(pipe));
        try
        {
            var library = context.Load(path);
            nint start = library.GetExport("tl_start_thread");
            Assert.Equal(0, ((delegate* unmanaged<int, int*, int>)start)(pipe[0], counter));
            WaitFor(() => context.Namespace.KeptForThreadExits == 0 && MappedNow(path) && Volatile.Read(ref *counter) == 0);

            // The thread has touched its thread_local (its destructor is registered) before it blocks: wait until
            // the tracker counts it, then unload.
            var module = library.LoadedModule;
            WaitFor(() => module.ThreadExits is { Pending: 1 });
            library.Dispose();
            Assert.Empty(context.LoadedLibraries);
            Assert.Equal(1, context.Namespace.KeptForThreadExits);
            Assert.True(MappedNow(path), "unloaded while a thread owes it a destructor, yet unmapped");

            // The thread exits; glibc runs the destructor (through the trampoline) in the still-mapped image.
            byte release = 1;
            Assert.Equal(1, Write(pipe[1], &release, 1));
            WaitFor(() => Volatile.Read(ref *counter) == 1);
            WaitFor(() => context.Namespace.KeptForThreadExits == 0);
            Assert.False(MappedNow(path), "the destructor ran, yet the image is still mapped");
        }
        finally
        {
            Close(pipe[0]);
            Close(pipe[1]);
            NativeMemory.Free(counter);
        }
    }

    [Fact]
    public void The_destructor_of_a_thread_that_exits_while_the_library_is_loaded_runs_once()
    {
        using var library = new LoaderContext().Load(Fixtures.Path("cxx/libcxx_thread_local.so"));
        var touch = (delegate* unmanaged<int*, void>)library.GetExport("tl_touch_here");
        var counter = (int*)NativeMemory.AllocZeroed(sizeof(int));
        try
        {
            var thread = new Thread(() => touch(counter));
            thread.Start();
            thread.Join();
            WaitFor(() => Volatile.Read(ref *counter) == 1);
            Assert.Equal(0, library.LoadedModule.ThreadExits!.Pending);
        }
        finally
        {
            NativeMemory.Free(counter);
        }
    }

    private static bool MappedNow(string path) => File.ReadLines("/proc/self/maps").Any(l => l.EndsWith(path, StringComparison.Ordinal));

    private static void WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting");
            Thread.Sleep(5);
        }
    }

    [DllImport("libc", EntryPoint = "pipe", SetLastError = true)]
    private static extern int Pipe(int[] fds);

    [DllImport("libc", EntryPoint = "write", SetLastError = true)]
    private static extern nint Write(int fd, byte* buffer, nint count);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int fd);
}
