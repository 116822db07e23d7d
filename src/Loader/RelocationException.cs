namespace Loader;

/// <summary>
/// A relocation Loader refuses to apply: an unsupported or TLS type, R_X86_64_COPY in a shared object, a target
/// outside the writable parts of the image, a value that does not fit, a text relocation not allowed, or a resolver
/// that <see cref="LoadOptions.RunResolvers"/> forbids running. The message names the library, the relocation and the symbol.
/// </summary>
public sealed class RelocationException : LoaderException
{
    /// <summary>Creates the exception.</summary>
    public RelocationException(string fileName, string message) : base(message) => FileName = fileName;

    /// <summary>The library being relocated.</summary>
    public string FileName { get; }
}
