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
        // A private copy: other tests read or map the fixture itself at the same time, and /proc/self/maps is checked.
        string directory = Directory.CreateTempSubdirectory("loader-thread-exit-").FullName;
        string path = Path.Combine(directory, "libcxx_thread_local.so");
        File.Copy(Fixtures.Path("cxx/libcxx_thread_local.so"), path);
        var context = new LoaderContext();
        var counter = (int*)NativeMemory.AllocZeroed(sizeof(int));
        int[] pipe = new int[2];
        Assert.Equal(0, Pipe(pipe));
        bool released = false;
        try
        {
            var library = context.Load(path);
            nint start = library.GetExport("tl_start_thread");
            Assert.Equal(0, ((delegate* unmanaged<int, int*, int>)start)(pipe[0], counter));
            Assert.True(MappedNow(path));

            // The thread touches its thread_local before it blocks, which registers the destructors of the file's
            // thread_locals (GCC's __tls_init does them all): wait until the tracker counts them, then unload.
            var module = library.LoadedModule;
            WaitFor(() => module.ThreadExits is { Pending: > 0 });
            library.Dispose();
            Assert.Empty(context.LoadedLibraries);
            Assert.Equal(1, context.Namespace.KeptForThreadExits);
            Assert.True(MappedNow(path), "unloaded while a thread owes it a destructor, yet unmapped");

            // The thread exits; glibc runs the destructors (through the trampoline) in the still-mapped image.
            Release(pipe[1]);
            released = true;
            WaitFor(() => Volatile.Read(ref *counter) == 1);
            WaitFor(() => context.Namespace.KeptForThreadExits == 0);
            Assert.False(MappedNow(path), "the destructors ran, yet the image is still mapped");
        }
        finally
        {
            if (!released)
                Release(pipe[1]);
            Close(pipe[0]);
            Close(pipe[1]);
            // The thread's destructor writes to the counter: free it only once it has (else leak it, safely).
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (Volatile.Read(ref *counter) == 0 && DateTime.UtcNow < deadline)
                Thread.Sleep(5);
            if (Volatile.Read(ref *counter) != 0)
                NativeMemory.Free(counter);
            Directory.Delete(directory, recursive: true);
        }
    }

    private static void Release(int fd)
    {
        byte one = 1;
        Write(fd, &one, 1);
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

    [Fact]
    public void Std_threads_each_get_their_own_thread_local_and_its_destructor_runs_at_their_exit()
    {
        using var library = new LoaderContext().Load(Fixtures.Path("cxx/libcxx_thread_local.so"));
        var run = (delegate* unmanaged<int, int*, int>)library.GetExport("tl_std_threads");
        int destructors = 0;
        Assert.Equal(8, run(8, &destructors));
        Assert.Equal(8, destructors); // each std::thread ran its copy's destructor before join returned
        Assert.Equal(0, library.LoadedModule.ThreadExits!.Pending);
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
