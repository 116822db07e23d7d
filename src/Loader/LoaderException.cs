namespace Loader;

/// <summary>The base of every error the loader reports for something it refuses to load or read.</summary>
public class LoaderException : Exception
{
    /// <summary>Creates an exception with a message that names the file and what was wrong.</summary>
    public LoaderException(string message) : base(message) { }

    /// <summary>Creates an exception that wraps the cause.</summary>
    public LoaderException(string message, Exception? inner) : base(message, inner) { }

    /// <summary>Creates an exception about <paramref name="fileName"/>, optionally wrapping the cause.</summary>
    /// <param name="message">The whole message; it names the file itself.</param>
    /// <param name="fileName">The file (or image, or cache) concerned, or null when there is none.</param>
    /// <param name="inner">The cause, or null.</param>
    public LoaderException(string message, string? fileName, Exception? inner) : base(message, inner) => FileName = fileName;

    /// <summary>The file (or image name) being read or loaded, or null when the error concerns no single file.</summary>
    public string? FileName { get; }

    /// <summary>The message of a refusal that points at one field: <c>file: field at offset 0x…: detail</c>.</summary>
    internal static string FieldMessage(string fileName, string field, ulong offset, string detail) =>
        $"{fileName}: {field} at offset 0x{offset:x}: {detail}";
}
