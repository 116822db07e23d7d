namespace Loader.Memory;

/// <summary>How this program starts itself as a child, from its own directory or a copy of it
/// (<see cref="ShippedLoader"/>): the apphost directly, or <c>dotnet Loader.Memory.dll</c> when it was started that way.</summary>
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
