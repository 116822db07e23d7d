using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// An unload collects what the released library's tree no longer needs, and only that, as glibc's <c>dlclose</c>
/// does: random sequences of loads and unloads over <see cref="UnloadGraph"/> (shared dependencies, a cycle, libraries
/// kept with <see cref="LoadOptions.NoDelete"/>, and references that a library of the tree interposes: every library
/// defines and reads <c>fini_log_path</c>, so a dependency binds to its load's root, which glibc then keeps loaded
/// while the dependency is, <c>l_reldeps</c>) run through Loader here and through glibc in a child
/// (<see cref="UnloadSequence"/>), and after every step the libraries loaded are the same. Some runs hold other
/// libraries throughout, enough for the namespace to find modules through its dictionaries.
/// </summary>
public sealed class UnloadCollectionTests(UnloadGraph graph) : IClassFixture<UnloadGraph>
{
    private static readonly string[] Names = [.. UnloadGraph.Needs.Keys];

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 0)]
    [InlineData(3, 0)]
    [InlineData(4, 40)]
    [InlineData(5, 40)]
    public void After_each_load_and_unload_Loader_holds_the_libraries_glibc_holds(int seed, int otherLibraries)
    {
        const int Count = 150;
        var run = ChildProcess.Run("dotnet", [typeof(UnloadCollectionTests).Assembly.Location, UnloadSequence.GlibcScenario,
            graph.Root, seed.ToString(System.Globalization.CultureInfo.InvariantCulture), Count.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(run.ExitCode == 0, $"glibc's child exited {run.ExitCode}: {run.Stderr}");
        string[] glibc = run.Stdout.Split('\n')[..Count];

        var context = new LoaderContext();
        var others = new List<ElfLibrary>();
        var held = new List<ElfLibrary>();
        string otherDirectory = Directory.CreateTempSubdirectory("loader-unload-others-").FullName;
        try
        {
            for (int i = 0; i < otherLibraries; i++)
            {
                string copy = Path.Join(otherDirectory, $"other{i}.so");
                File.Copy(Fixtures.Path("basic.so"), copy);
                others.Add(context.Load(copy));
            }
            var steps = UnloadSequence.Make(seed, Count);
            for (int i = 0; i < Count; i++)
            {
                var step = steps[i];
                if (step.Name is null)
                {
                    held[step.Index].Dispose();
                    held.RemoveAt(step.Index);
                }
                else
                {
                    held.Add(context.Load(graph.PathOf(step.Name), new LoadOptions { NoDelete = step.Keep }));
                }
                string ours = string.Join(',', Loaded(context).Order(StringComparer.Ordinal));
                Assert.True(ours == glibc[i], $"seed {seed}, step {i} ({step}): Loader holds [{ours}], glibc [{glibc[i]}]");
            }
        }
        finally
        {
            foreach (var library in held.Concat(others))
                library.Dispose();
            context.Dispose();
            Directory.Delete(otherDirectory, recursive: true);
        }
    }

    [Fact]
    public void An_unload_runs_the_destructors_of_what_it_frees_dependents_first_and_leaves_the_rest()
    {
        string log = Path.Join(graph.Root, $"fini-{Guid.NewGuid():N}.log");
        using var context = new LoaderContext();
        var top1 = context.Load(graph.PathOf("top1"));
        var top2 = context.Load(graph.PathOf("top2"));
        foreach (string name in Names)
        {
            using var handle = context.Load(graph.PathOf(name)); // another reference on the module already loaded
            var path = System.Text.Encoding.UTF8.GetBytes(log + "\0");
            System.Runtime.InteropServices.Marshal.Copy(path, 0, handle.GetExport("fini_log_path"), path.Length);
        }

        top2.Dispose(); // top2 and the cycle go; mid2 and leaf stay for top1
        string[] first = File.ReadAllText(log).Split(';', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("top2", first[0]);
        Assert.Equal(["cyc1", "cyc2", "top2"], first.Order());
        Assert.Equal(["leaf", "mid1", "mid2", "top1"], Loaded(context).Order());

        File.Delete(log);
        top1.Dispose();
        string[] second = File.ReadAllText(log).Split(';', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("top1", second[0]);
        Assert.Equal("leaf", second[^1]);
        Assert.Equal(["leaf", "mid1", "mid2", "top1"], second.Order());
        Assert.Empty(Loaded(context));
    }

    [Fact]
    public void A_dependency_whose_reference_the_root_interposes_keeps_the_root_and_says_so()
    {
        using var context = new LoaderContext();
        var mid1 = context.Load(graph.PathOf("mid1")); // leaf's fini_log_path binds to mid1's: mid1 roots the load
        using var mid2 = context.Load(graph.PathOf("mid2"));
        using (var leaf = context.Load(graph.PathOf("leaf")))
        {
            Assert.Equal([graph.PathOf("mid1")], leaf.RelocationDependencies.Select(m => m.Path));
            var binding = Assert.Single(leaf.Relocations, r => r.Symbol == "fini_log_path");
            Assert.Equal(graph.PathOf("mid1"), binding.DefinedBy?.Path);
        }
        Assert.Empty(mid2.RelocationDependencies); // leaf was loaded already: mid2's load relocated nothing of it
        mid1.Dispose();
        Assert.Contains("mid1", Loaded(context)); // held by leaf's binding, as glibc holds it
    }

    private IEnumerable<string> Loaded(LoaderContext context) =>
        context.LoadedLibraries.Where(s => s.Module.Path.StartsWith(graph.Root + "/", StringComparison.Ordinal))
            .Select(s => Path.GetFileNameWithoutExtension(s.Module.Path)[3..]);
}
