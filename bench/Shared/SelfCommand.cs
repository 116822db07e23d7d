namespace Loader.BenchShared;

/// <summary>How a benchmark program starts itself as a child, from its own directory or a copy of it (the memory tool
/// runs its Loader children from a copy with the packaged Loader.dll, or from its NativeAOT publication): the apphost
/// directly, or <c>dotnet PROGRAM.dll</c> when it was started that way.</summary>
internal static class SelfCommand
{
    public static (string FileName, List<string> Arguments) With(params string[] arguments) =>
        From(AppContext.BaseDirectory, arguments);

    public static (string FileName, List<string> Arguments) From(string directory, params string[] arguments)
    {
        string process = Environment.ProcessPath!;
        string assembly = Path.Combine(directory, ProgramName + ".dll");
        if (Path.GetFileNameWithoutExtension(process) == "dotnet")
            return (process, [assembly, .. arguments]);
        return (Path.Combine(directory, Path.GetFileName(process)), [.. arguments]);
    }

    /// <summary>A NativeAOT publication of the program in <paramref name="directory"/>: its native executable, whichever
    /// way this process was started.</summary>
    public static (string FileName, List<string> Arguments) Native(string directory, params string[] arguments) =>
        (Path.Combine(directory, ProgramName), [.. arguments]);

    // The assembly's name, not its Location: a NativeAOT publication of the program has no assembly file.
    private static string ProgramName => typeof(SelfCommand).Assembly.GetName().Name!;
}
