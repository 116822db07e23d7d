using System.Diagnostics.CodeAnalysis;
using Loader.Linking;

namespace Loader;

/// <summary>
/// The one place every stage (Elf/, Mapping/, Linking/) turns a refusal into an exception. The methods never return
/// and are kept out of line, so the callers' checks stay small enough to inline (the pattern of
/// System.Reflection.Metadata's <c>Throw</c>). Each kind has a <c>void</c> form for statements and a generic form
/// for expressions (<c>x ?? ThrowHelper.ImageLoad&lt;T&gt;(…)</c>).
/// </summary>
internal static class ThrowHelper
{
    /// <summary>True when <c>[offset, offset + length)</c> does not fit in <paramref name="size"/>, without overflow.</summary>
    public static bool OutOfRange(ulong offset, ulong length, ulong size) =>
        offset > size || length > size - offset;

    /// <summary>A malformed ELF file: <see cref="ElfFormatException"/>, <c>file: field at offset 0x…: detail</c>.</summary>
    [DoesNotReturn]
    public static void Format(string fileName, string field, ulong offset, string detail) =>
        throw new ElfFormatException(fileName, field, offset, detail);

    /// <summary>The same, as an expression.</summary>
    [DoesNotReturn]
    public static T Format<T>(string fileName, string field, ulong offset, string detail) where T : allows ref struct =>
        throw new ElfFormatException(fileName, field, offset, detail);

    /// <summary>
    /// A file that does not begin with the ELF magic: <see cref="NotElfFileException"/>, whose message says what the
    /// first bytes (<paramref name="start"/>) show it is: a linker script and the library it names, an ar archive,
    /// a text file, or other data and its magic number.
    /// </summary>
    [DoesNotReturn]
    public static void NotElf(string fileName, ReadOnlySpan<byte> start) =>
        throw Elf.FileKindDetector.Describe(fileName, start);

    /// <summary>A valid ELF file this loader cannot run: <see cref="UnsupportedElfException"/>, same message shape.</summary>
    [DoesNotReturn]
    public static void Unsupported(string fileName, string field, ulong offset, string detail) =>
        throw new UnsupportedElfException(fileName, field, offset, detail);

    /// <summary>
    /// A malformed file that is not an ELF object (<c>/etc/ld.so.cache</c>): a plain <see cref="LoaderException"/>
    /// with the field message shape, <c>file: field at offset 0x…: detail</c>.
    /// </summary>
    [DoesNotReturn]
    public static void Malformed(string fileName, string field, ulong offset, string detail) =>
        throw new LoaderException(LoaderException.FieldMessage(fileName, field, offset, detail), fileName, inner: null);

    /// <summary>A refusal about <paramref name="fileName"/> that no subclass describes; the message names the file.</summary>
    [DoesNotReturn]
    public static void Refused(string fileName, string message) =>
        throw new LoaderException(message, fileName, inner: null);

    /// <summary>The same, as an expression.</summary>
    [DoesNotReturn]
    public static T Refused<T>(string fileName, string message) where T : allows ref struct =>
        throw new LoaderException(message, fileName, inner: null);

    /// <summary>A relocation refused: <see cref="RelocationException"/>; the message names library, relocation and symbol.</summary>
    [DoesNotReturn]
    public static void Relocation(string fileName, string message) =>
        throw new RelocationException(fileName, message);

    /// <summary>The same, as an expression.</summary>
    [DoesNotReturn]
    public static T Relocation<T>(string fileName, string message) where T : allows ref struct =>
        throw new RelocationException(fileName, message);

    /// <summary>A system call that failed while opening or mapping: <see cref="ImageLoadException"/> with its errno.</summary>
    [DoesNotReturn]
    public static void ImageLoad(string fileName, string call, int errno, string message) =>
        throw new ImageLoadException(fileName, call, errno, message);

    /// <summary>The same, as an expression.</summary>
    [DoesNotReturn]
    public static T ImageLoad<T>(string fileName, string call, int errno, string message) where T : allows ref struct =>
        throw new ImageLoadException(fileName, call, errno, message);

    /// <summary>A failure while opening or mapping that is not an errno (an injected fault): <see cref="ImageLoadException"/>.</summary>
    [DoesNotReturn]
    public static void ImageLoad(string fileName, string call, string message, Exception? inner) =>
        throw new ImageLoadException(fileName, call, message, inner);

    /// <summary>A name found nowhere glibc would look: <see cref="LibraryNotFoundException"/> listing every attempt.</summary>
    [DoesNotReturn]
    public static void LibraryNotFound(string name, string? requesterPath, IReadOnlyList<SearchAttempt> attempts) =>
        throw new LibraryNotFoundException(name, requesterPath, attempts);

    /// <summary>The same, as an expression.</summary>
    [DoesNotReturn]
    public static T LibraryNotFound<T>(string name, string? requesterPath, IReadOnlyList<SearchAttempt> attempts) where T : allows ref struct =>
        throw new LibraryNotFoundException(name, requesterPath, attempts);

    /// <summary>A symbol defined nowhere in the scope searched: <see cref="SymbolNotFoundException"/>.</summary>
    [DoesNotReturn]
    public static void SymbolNotFound(string symbol, string? version, string requestedBy, string message) =>
        throw new SymbolNotFoundException(symbol, version, requestedBy, message);

    /// <summary>The same, as an expression.</summary>
    [DoesNotReturn]
    public static T SymbolNotFound<T>(string symbol, string? version, string requestedBy, string message) where T : allows ref struct =>
        throw new SymbolNotFoundException(symbol, version, requestedBy, message);
}
