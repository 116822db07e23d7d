namespace Loader.Benchmarks;

/// <summary>The test fixtures scripts/build-fixtures.sh builds (tests/fixtures/build), found above the benchmark's
/// own directory, for the benchmarks that load one.</summary>
internal static class Fixtures
{
    public static string Path(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = System.IO.Path.Combine(dir.FullName, "tests", "fixtures", "build", name);
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Loader.sln")))
                return File.Exists(path) ? path : throw new FileNotFoundException($"{path}: run scripts/build-fixtures.sh", path);
        }
        throw new FileNotFoundException($"no Loader.sln above {AppContext.BaseDirectory}");
    }
}
