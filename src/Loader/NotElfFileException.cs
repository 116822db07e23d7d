using Loader.Elf;

namespace Loader;

/// <summary>
/// The file does not begin with the ELF magic <c>\x7fELF</c>, and the message says what it is instead: a GNU ld
/// linker script (with the files it names), an <c>ar</c> archive, a text file, or other data with its magic number.
/// </summary>
public sealed class NotElfFileException : LoaderException
{
    /// <summary>Creates the exception; <paramref name="message"/> names the file and what it is.</summary>
    public NotElfFileException(string fileName, FileKind kind, IReadOnlyList<string> namedFiles, string message)
        : base(message, fileName, inner: null)
    {
        Kind = kind;
        NamedFiles = namedFiles;
    }

    /// <summary>What the file is.</summary>
    public FileKind Kind { get; }

    /// <summary>
    /// For a <see cref="FileKind.LinkerScript"/>, the files its <c>GROUP</c> and <c>INPUT</c> commands name, in order
    /// (<c>-lname</c> as written); empty otherwise.
    /// </summary>
    public IReadOnlyList<string> NamedFiles { get; }

    /// <summary>
    /// For a linker script, the shared object it names (the first named file whose name has <c>.so</c> in it, else
    /// the first named file) — the library to load instead; null otherwise.
    /// </summary>
    public string? NamedLibrary =>
        NamedFiles.FirstOrDefault(IsSharedObjectName) ?? NamedFiles.FirstOrDefault();

    internal static bool IsSharedObjectName(string name) =>
        name.EndsWith(".so", StringComparison.Ordinal) || name.Contains(".so.", StringComparison.Ordinal);
}
