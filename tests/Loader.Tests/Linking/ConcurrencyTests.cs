namespace Loader.Tests.Linking;

/// <summary>
/// Loads, lookups, calls and unloads from eight threads at once — on one shared context, on a fresh context per
/// cycle, and on the default context mixing file and memory loads — leave exact reference counts and nothing mapped;
/// and disposing a context unloads what it still holds.
/// </summary>
[Collection("AddressSpace")]
public sealed unsafe class ConcurrencyTests : IDisposable
{
    private const int Threads = 8, Cycles = 500;
    private readonly string _directory = Directory.CreateTempSubdirectory("loader-concurrency-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string CopyOfBasic(string name)
    {
        string path = Path.Combine(_directory, name);
        File.Copy(Fixtures.Path("basic.so"), path);
        return path;
    }

    private static void OnEightThreads(Action<int> cycle)
    {
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            try
            {
                for (int i = 0; i < Cycles; i++)
                    cycle(t);
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(failures);
    }

    private static int CallAdd(ElfLibrary library, int a, int b) => ((delegate* unmanaged<int, int, int>)library.GetExport("add"))(a, b);

    private static bool Mapped(string path) => File.ReadLines("/proc/self/maps").Any(l => l.EndsWith(path, StringComparison.Ordinal));

    [Fact]
    public void One_shared_context()
    {
        string path = CopyOfBasic("shared.so");
        var context = new LoaderContext();
        using var keeper = context.Load(path); // one handle throughout: the count must come back to exactly 1
        OnEightThreads(t =>
        {
            using var library = context.Load(path);
            Assert.Equal(keeper.BaseAddress, library.BaseAddress);
            Assert.Equal(t + 1, CallAdd(library, t, 1));
        });
        var state = Assert.Single(context.LoadedLibraries);
        Assert.Equal(1, state.ReferenceCount);
        keeper.Dispose();
        Assert.Empty(context.LoadedLibraries);
        Assert.False(Mapped(path));
    }

    [Fact]
    public void A_fresh_context_per_cycle()
    {
        string path = CopyOfBasic("fresh.so");
        OnEightThreads(t =>
        {
            var context = new LoaderContext();
            using (var library = context.Load(path))
                Assert.Equal(t + 2, CallAdd(library, t, 2));
            Assert.Empty(context.LoadedLibraries);
        });
        Assert.False(Mapped(path));
    }

    [Fact]
    public void The_default_context_mixing_file_and_memory_loads()
    {
        string path = CopyOfBasic("default.so");
        byte[] bytes = File.ReadAllBytes(path);
        OnEightThreads(t =>
        {
            using var fromFile = ElfLibrary.Load(path);
            using var fromMemory = ElfLibrary.Load(bytes, $"default-memory-{t}.so");
            Assert.NotEqual(fromFile.BaseAddress, fromMemory.BaseAddress);
            Assert.Equal(CallAdd(fromFile, t, 3), CallAdd(fromMemory, t, 3));
        });
        Assert.DoesNotContain(LoaderContext.Default.LoadedLibraries, l => l.Module.Path == path || l.Module.Path.StartsWith("default-memory-", StringComparison.Ordinal));
        Assert.False(Mapped(path));
        Assert.DoesNotContain(File.ReadLines("/proc/self/maps"), l => l.Contains("/memfd:default-memory-", StringComparison.Ordinal));
    }

    [Fact]
    public void Disposing_a_context_unloads_what_it_still_holds_and_refuses_later_use()
    {
        // A private copy of the chain (a -> lib/b -> lib/deep/c through RUNPATH $ORIGIN): other tests map the
        // fixtures themselves at the same time, so only our own paths tell what this context left mapped.
        foreach (string file in new[] { "libchain_a.so", "lib/libchain_b.so", "lib/deep/libchain_c.so" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(_directory, file))!);
            File.Copy(Fixtures.Path("chain/" + file), Path.Combine(_directory, file));
        }
        var context = new LoaderContext();
        var chain = context.Load(Path.Combine(_directory, "libchain_a.so"), new LoadOptions { LdLibraryPath = "" });
        var paths = context.LoadedLibraries.Select(l => l.Module.Path).ToList();
        Assert.Equal(3, paths.Count);

        context.Dispose();
        Assert.Empty(context.LoadedLibraries);
        Assert.All(paths, p => Assert.False(Mapped(p), $"{p} is still mapped"));
        Assert.Throws<ObjectDisposedException>(() => chain.GetExport("chain_a_value"));
        Assert.Throws<ObjectDisposedException>(() => context.Load(Fixtures.Path("basic.so")));
        chain.Dispose(); // a handle outliving its context goes quietly
        context.Dispose(); // idempotent
        Assert.Throws<InvalidOperationException>(() => LoaderContext.Default.Dispose());
    }
}
