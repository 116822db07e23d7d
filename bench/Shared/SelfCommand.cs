namespace Loader.BenchShared;

/// <summary>How a benchmark program starts itself as a child, from its own directory or a copy of it (the memory tool
/// runs its Loader children from a copy with the packaged Loader.dll): the apphost directly, or <c>dotnet
/// PROGRAM.dll</c> when it was started that way.</summary>
internal static class SelfCommand
{
    public static (string FileName, List<string> Arguments) With(params string[] arguments) =>
        From(AppContext.BaseDirectory, arguments);

    public static (string FileName, List<string> Arguments) From(string directory, params string[] arguments)
    {
        string process = Environment.ProcessPath!;
        string assembly = Path.Combine(directory, Path.GetFileName(typeof(SelfCommand).Assembly.Location));
        if (Path.GetFileNameWithoutExtension(process) == "dotnet")
            return (process, [assembly, .. arguments]);
        return (Path.Combine(directory, Path.GetFileName(process)), [.. arguments]);
    }
}
