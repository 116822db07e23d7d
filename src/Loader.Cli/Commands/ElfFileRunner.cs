using Loader.Elf;

namespace Loader.Cli.Commands;

/// <summary>
/// Opens the file a command reads and turns every way a file can be unreadable or malformed into exit code 1 with
/// one line on stderr (<c>loader: &lt;message&gt;</c>, no stack trace). Anything else is a bug and is left to
/// <see cref="CliApp"/>.
/// </summary>
internal static class ElfFileRunner
{
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
        string message = ex switch
        {
            // The loader's own messages already start with the file's name.
            LoaderException => ex.Message,
            FileNotFoundException or DirectoryNotFoundException => $"{path}: no such file",
            UnauthorizedAccessException when Directory.Exists(path) => $"{path}: is a directory, not an ELF file",
            UnauthorizedAccessException => $"{path}: permission denied",
            _ => $"{path}: {ex.Message}",
        };
        stderr.WriteLine($"loader: {message}");
        return ExitCodes.BadFile;
    }
}
