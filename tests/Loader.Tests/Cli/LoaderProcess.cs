using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>The built <c>loader</c> tool run as a real process (<c>dotnet Loader.Cli.dll ...</c>): exit codes, streams
/// and C's stdio buffering as a shell sees them.</summary>
internal static class LoaderProcess
{
    /// <summary>
    /// Loader.Cli.dll (the <c>loader</c> tool's assembly: it cannot be named loader.dll, see Loader.Cli.csproj) next to
    /// the test assembly, where the project reference copies it, else in src/Loader.Cli/bin of the enclosing checkout.
    /// </summary>
    public static string FindCliAssembly()
    {
        string beside = Path.Combine(AppContext.BaseDirectory, "Loader.Cli.dll");
        if (File.Exists(beside) && File.Exists(Path.Combine(AppContext.BaseDirectory, "Loader.Cli.runtimeconfig.json")))
            return beside;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var bin = new DirectoryInfo(Path.Combine(dir.FullName, "src", "Loader.Cli", "bin"));
            if (!bin.Exists)
                continue;
            var newest = bin.EnumerateFiles("Loader.Cli.dll", SearchOption.AllDirectories)
                .Where(f => File.Exists(Path.ChangeExtension(f.FullName, ".runtimeconfig.json")))
                .OrderByDescending(f => f.LastWriteTimeUtc)
                .FirstOrDefault();
            if (newest is not null)
                return newest.FullName;
        }
        throw new FileNotFoundException($"Loader.Cli.dll was not found beside {AppContext.BaseDirectory} nor in any src/Loader.Cli/bin above it");
    }

    /// <summary>Runs <c>loader args...</c> to completion.</summary>
    public static ChildProcess.Result Run(params string[] args) => ChildProcess.Run("dotnet", [FindCliAssembly(), .. args]);
}
