namespace Loader.Memory;

/// <summary>How this program starts itself as a child: the apphost directly, or <c>dotnet Loader.Memory.dll</c>
/// when it was started that way.</summary>
internal static class SelfCommand
{
    public static (string FileName, List<string> Arguments) With(params string[] arguments)
    {
        string process = Environment.ProcessPath!;
        if (Path.GetFileNameWithoutExtension(process) == "dotnet")
            return (process, [typeof(SelfCommand).Assembly.Location, .. arguments]);
        return (process, [.. arguments]);
    }
}
