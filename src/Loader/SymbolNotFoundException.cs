namespace Loader;

/// <summary>A symbol a library needs (or a caller asked for) is defined nowhere in the scope searched.</summary>
public sealed class SymbolNotFoundException : LoaderException
{
    /// <summary>Creates the exception; the message names the symbol, its version and who needed it.</summary>
    public SymbolNotFoundException(string symbol, string? version, string requestedBy, string message)
        : base(message, requestedBy, inner: null)
    {
        Symbol = symbol;
        Version = version;
        RequestedBy = requestedBy;
    }

    /// <summary>The symbol's name.</summary>
    public string Symbol { get; }

    /// <summary>The version asked for, or null.</summary>
    public string? Version { get; }

    /// <summary>The library whose relocation (or handle) asked for it (also <see cref="LoaderException.FileName"/>).</summary>
    public string RequestedBy { get; }
}
