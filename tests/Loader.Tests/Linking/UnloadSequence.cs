using System.Globalization;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// A random sequence of loads and unloads over <see cref="UnloadGraph"/>'s libraries, made from a seed, and its run
/// through glibc in a child process of its own (<c>unload-sequence-glibc ROOT SEED STEPS</c>: a process whose glibc
/// has loaded nothing else, since glibc matches a DT_NEEDED name against every object it has by soname, and a
/// DF_1_NODELETE object stays for the process's life): after each step the child prints the names of the graph's
/// libraries glibc holds, sorted, comma-separated.
/// </summary>
public static class UnloadSequence
{
    public const string GlibcScenario = "unload-sequence-glibc";

    /// <summary>One step: load <paramref name="Name"/> (kept for good when <paramref name="Keep"/>), or, when
    /// <paramref name="Name"/> is null, give back the handle at <paramref name="Index"/> of those held, in the order
    /// they were taken.</summary>
    public readonly record struct Step(string? Name, bool Keep, int Index)
    {
        public override string ToString() => Name is null ? $"unload handle {Index}" : $"load {Name}{(Keep ? " (NoDelete)" : "")}";
    }

    public static List<Step> Make(int seed, int count)
    {
        string[] names = [.. UnloadGraph.Needs.Keys];
        var random = new Random(seed);
        var steps = new List<Step>(count);
        int held = 0;
        for (int i = 0; i < count; i++)
        {
            if (held > 0 && random.Next(5) < 2)
            {
                steps.Add(new Step(null, false, random.Next(held)));
                held--;
            }
            else
            {
                steps.Add(new Step(names[random.Next(names.Length)], random.Next(25) == 0, -1));
                held++;
            }
        }
        return steps;
    }

    public static int RunWithGlibc(string root, int seed, int count)
    {
        string prefix = Glibc.RealPath(root) + "/";
        var held = new List<nint>();
        foreach (var step in Make(seed, count))
        {
            if (step.Name is null)
            {
                if (Glibc.Close(held[step.Index]) != 0)
                    throw new InvalidOperationException($"dlclose: {Glibc.LastError()}");
                held.RemoveAt(step.Index);
            }
            else
            {
                string path = Path.Join(root, $"lib{step.Name}.so");
                nint handle = step.Keep ? Glibc.OpenNoDelete(path) : Glibc.Open(path);
                if (handle == 0)
                    throw new InvalidOperationException($"dlopen({path}): {Glibc.LastError()}");
                held.Add(handle);
            }
            var names = Glibc.LoadedObjects().Where(o => o.RealPath.StartsWith(prefix, StringComparison.Ordinal))
                .Select(o => Path.GetFileNameWithoutExtension(o.RealPath)[3..]).Order(StringComparer.Ordinal);
            Console.WriteLine(string.Join(',', names));
        }
        return 0;
    }
}
