namespace Loader.BenchShared;

/// <summary>Files of this checkout (scripts, projects, C sources) that benchmarks build or run. BenchmarkDotNet runs its
/// own build under the project's bin/, so the checkout is found by walking up from there, or from the working directory.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>The path of a file under the checkout, checked to exist.</summary>
    public static string File(params string[] parts)
    {
        string path = Path.Combine([Root, .. parts]);
        if (!System.IO.File.Exists(path) && !Directory.Exists(path))
            throw new FileNotFoundException($"{path} is not in the checkout", path);
        return path;
    }

    private static string FindRoot()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (System.IO.File.Exists(Path.Combine(directory.FullName, "Loader.sln")))
                    return directory.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no Loader.sln above {AppContext.BaseDirectory} or {Environment.CurrentDirectory}");
    }
}
