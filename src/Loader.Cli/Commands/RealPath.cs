namespace Loader.Cli.Commands;

/// <summary>
/// <c>realpath(3)</c> in managed code: every symbolic link along the path resolved, so two names of one file (a
/// merged-/usr <c>/lib/x86_64-linux-gnu/libc.so.6</c> and <c>/usr/lib/x86_64-linux-gnu/libc.so.6</c>) compare equal.
/// A component that does not exist is kept as written.
/// </summary>
internal static class RealPath
{
    /// <summary>The linux limit on links followed in one lookup (<c>MAXSYMLINKS</c>).</summary>
    private const int MaxLinks = 40;

    public static string Of(string path) => Resolve(Path.GetFullPath(path), MaxLinks);

    private static string Resolve(string full, int linksLeft)
    {
        string? parent = Path.GetDirectoryName(full);
        if (parent is null)
            return full; // "/"
        string directory = Resolve(parent, linksLeft);
        string candidate = Path.Join(directory, Path.GetFileName(full));
        string? target;
        try
        {
            target = new FileInfo(candidate).LinkTarget;
        }
        catch (IOException)
        {
            return candidate;
        }
        catch (UnauthorizedAccessException)
        {
            return candidate;
        }
        if (target is null || linksLeft == 0)
            return candidate;
        return Resolve(Path.GetFullPath(target, directory), linksLeft - 1);
    }
}
