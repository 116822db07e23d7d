using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// What needs an IFUNC resolver's result, named only in a refusal's message: an <c>STT_GNU_IFUNC</c> symbol (its table
/// and index: the name is decoded when a message is made) or an <c>R_X86_64_IRELATIVE</c> entry (its offset, and the
/// resolver's offset from the image's base). A value, made for every resolver a load runs — a library such as libmvec
/// has a hundred IRELATIVE entries — so nothing is formatted or decoded unless a resolver is refused.
/// </summary>
internal readonly struct ResolverUse
{
    private readonly SymbolTable? _symbols;
    private readonly int _symbolIndex;
    private readonly ulong _offset, _resolverOffset;

    private ResolverUse(SymbolTable? symbols, int symbolIndex, ulong offset, ulong resolverOffset)
    {
        _symbols = symbols;
        _symbolIndex = symbolIndex;
        _offset = offset;
        _resolverOffset = resolverOffset;
    }

    /// <summary>The IFUNC symbol at <paramref name="index"/> in <paramref name="symbols"/>.</summary>
    public static ResolverUse Symbol(SymbolTable symbols, int index) => new(symbols, index, 0, 0);

    /// <summary>The R_X86_64_IRELATIVE entry at <paramref name="offset"/>, whose resolver lies at base + <paramref name="resolverOffset"/>.</summary>
    public static ResolverUse Irelative(ulong offset, ulong resolverOffset) => new(null, 0, offset, resolverOffset);

    /// <summary>As the messages name it: <c>IFUNC 'memcpy'</c>, or <c>R_X86_64_IRELATIVE at 0x… (resolver at base+0x…)</c>.</summary>
    public override string ToString() =>
        _symbols is not null
            ? $"IFUNC '{(_symbolIndex < _symbols.Count ? _symbols.GetName(_symbolIndex) : $"#{_symbolIndex}")}'"
            : $"R_X86_64_IRELATIVE at 0x{_offset:x} (resolver at base+0x{_resolverOffset:x})";
}
