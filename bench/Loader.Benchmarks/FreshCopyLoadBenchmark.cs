using BenchmarkDotNet.Attributes;

namespace Loader.Benchmarks;

/// <summary>
/// A whole load and unload of one file, glibc's <c>dlopen(path, RTLD_NOW|RTLD_LOCAL)</c> + <c>dlclose</c> against
/// Loader's <c>new LoaderContext().Load(path)</c> + <c>Dispose</c>, each iteration on its own fresh copy made in the
/// iteration's setup (not timed), for both sides: a copy is a new inode, so neither side can reuse an object the
/// process already has. What to copy is the derived class's (<see cref="SourcePath"/>).
/// </summary>
public abstract class FreshCopyLoadBenchmark
{
    private string _copy = "";
    private unsafe byte* _nativePath;
    private int _round;

    /// <summary>The file each iteration copies.</summary>
    protected abstract string SourcePath { get; }

    /// <summary>The copy the current iteration loads.</summary>
    protected string Copy => _copy;

    [IterationSetup]
    public void NewCopy()
    {
        _copy = Libraries.PrivateCopyOf(SourcePath, $"load{_round++}");
        unsafe
        {
            _nativePath = Glibc.ToNativeUtf8(_copy);
        }
    }

    [IterationCleanup]
    public void DropCopy()
    {
        unsafe
        {
            Glibc.FreeNativeUtf8(_nativePath);
            _nativePath = null;
        }
        // A NODELETE copy stays mapped in glibc's process; its file can go.
        Libraries.DeletePrivateCopy(_copy);
    }

    /// <summary>Checks once that Loader loads the copy itself (not the host's), then warms the load path up: with an
    /// iteration setup BenchmarkDotNet runs one invocation per iteration, too few for the JIT to reach its optimized
    /// tier on the load path by itself (glibc's code is compiled already). <paramref name="stage"/> is one warm-up
    /// stage (by default 60 loads of the copy), repeated until a stage compiles nothing (<see cref="JitWarmUp"/>).</summary>
    protected void CheckAndWarmUp(Action? stage = null)
    {
        NewCopy();
        try
        {
            using (var library = new LoaderContext().Load(_copy))
            {
                if (library.IsHost)
                    throw new InvalidOperationException($"{_copy}: Loader took the host's copy instead of loading it");
            }
            string copy = _copy;
            stage ??= () =>
            {
                for (int i = 0; i < 60; i++)
                    new LoaderContext().Load(copy).Dispose();
            };
            int stages = JitWarmUp.UntilSettled(stage, TimeSpan.FromMilliseconds(500), maxStages: 30);
            Console.WriteLine($"// warmed up in {stages} stages");
        }
        finally
        {
            DropCopy();
        }
    }

    [Benchmark(Baseline = true, Description = "glibc dlopen+dlclose")]
    public unsafe void GlibcLoadUnload()
    {
        nint handle = Glibc.DlOpen(_nativePath, Glibc.RTLD_NOW | Glibc.RTLD_LOCAL);
        if (handle == 0)
            throw new InvalidOperationException($"dlopen {_copy}: {Glibc.DlError()}");
        Glibc.DlClose(handle);
    }

    [Benchmark(Description = "Loader Load+Dispose")]
    public nint LoaderLoadUnload()
    {
        using var library = new LoaderContext().Load(_copy);
        return library.BaseAddress;
    }
}
