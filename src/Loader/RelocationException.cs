namespace Loader;

/// <summary>
/// A relocation Loader refuses to apply: an unsupported or TLS type, R_X86_64_COPY in a shared object, a target
/// outside the writable parts of the image, a value that does not fit, a text relocation not allowed, or a resolver
/// that <see cref="LoadOptions.RunResolvers"/> forbids running. The message names the library, the relocation and the symbol.
/// </summary>
public sealed class RelocationException : LoaderException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="fileName">The library being relocated (<see cref="LoaderException.FileName"/>).</param>
    /// <param name="message">The whole message: library, relocation, symbol.</param>
    public RelocationException(string fileName, string message) : base(message, fileName, inner: null) { }
}
