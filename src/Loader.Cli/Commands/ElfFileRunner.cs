using Loader.Elf;

namespace Loader.Cli.Commands;

/// <summary>
/// Opens the file a command reads and turns every way a file can be unreadable or malformed into exit code 1 with
/// one line on stderr (<c>loader: &lt;message&gt;</c>, no stack trace). Anything else is a bug and is left to
/// <see cref="CliApp"/>. <see cref="Describe"/> is the one wording of those errors for every command.
/// </summary>
internal static class ElfFileRunner
{
    // asm-generic/errno-base.h: the open() failures worded for people rather than as the call and its errno.
    private const int EPERM = 1, ENOENT = 2, EACCES = 13, ENOTDIR = 20;

    /// <summary>Opens <paramref name="path"/>, runs <paramref name="body"/> on it, and returns its exit code.</summary>
    public static int Run(string path, TextWriter stderr, Func<ElfFile, int> body)
    {
        try
        {
            using var elf = ElfFile.Open(path);
            return body(elf);
        }
        catch (Exception ex) when (IsFileProblem(ex))
        {
            return Fail(stderr, path, ex);
        }
    }

    /// <summary>True for the exceptions that mean "this file cannot be read as ELF", as opposed to a bug.</summary>
    public static bool IsFileProblem(Exception ex) => ex is LoaderException or IOException or UnauthorizedAccessException;

    /// <summary>Writes <c>loader: message</c>, the message starting with the path, and returns 1.</summary>
    public static int Fail(TextWriter stderr, string path, Exception ex)
    {
        stderr.WriteLine($"loader: {Describe(path, ex)}");
        return ExitCodes.BadFile;
    }

    /// <summary>
    /// The one wording of a file problem, starting with the file's name: <c>PATH: no such file</c>,
    /// <c>PATH: permission denied</c>, <c>PATH: is a directory, not a regular file (…)</c>, and otherwise the
    /// library's message (<c>PATH: a GNU ld linker script, not an ELF file; …</c>,
    /// <c>PATH: e_phoff at offset 0x20: …</c>), which already names the file.
    /// </summary>
    public static string Describe(string path, Exception ex)
    {
        string message = DescribeAsLoaded(path, ex);
        // A FILE given as "name" and loaded as "./name" (LoadablePath) is named as the user wrote it.
        string loaded = LoadablePath(path);
        return loaded != path && message.StartsWith(loaded + ": ", StringComparison.Ordinal) ? path + message[loaded.Length..] : message;
    }

    private static string DescribeAsLoaded(string path, Exception ex) => ex switch
    {
        ImageLoadException { Call: "open", Errno: ENOENT or ENOTDIR } e => $"{e.FileName ?? path}: no such file",
        ImageLoadException { Call: "open", Errno: EACCES or EPERM } e => $"{e.FileName ?? path}: permission denied",
        LoaderException => ex.Message,
        FileNotFoundException or DirectoryNotFoundException => $"{path}: no such file",
        UnauthorizedAccessException when Directory.Exists(path) => $"{path}: is a directory, not a regular file",
        UnauthorizedAccessException => $"{path}: permission denied",
        _ => $"{path}: {ex.Message}",
    };

    /// <summary>
    /// The FILE a loading command (call, try) hands to <see cref="LoaderContext.Load(string, LoadOptions?)"/>: a name
    /// without '/' that names something in the current directory is that file (<c>./name</c>), as every reading command
    /// reads it; a bare name that names nothing here is left to be searched for as dlopen searches
    /// (<c>libm.so.6</c>).
    /// </summary>
    public static string LoadablePath(string file) =>
        !file.Contains('/') && file.Length > 0 && (File.Exists(file) || Directory.Exists(file)) ? "./" + file : file;

    /// <summary><see cref="Describe"/> without the leading <c>PATH: </c>, for a line that names the file already.</summary>
    public static string DescribeWithoutPath(string path, Exception ex)
    {
        string message = Describe(path, ex);
        string prefix = path + ": ";
        return message.StartsWith(prefix, StringComparison.Ordinal) ? message[prefix.Length..] : message;
    }
}
