namespace Loader.Elf;

/// <summary>One symbol (<c>Elf32_Sym</c>/<c>Elf64_Sym</c>), decoded on demand from its table.</summary>
public readonly record struct ElfSymbol(uint NameOffset, ulong Value, ulong Size, byte Info, byte Other, ushort SectionIndex)
{
    /// <summary>SHN_UNDEF.</summary>
    public const ushort SHN_UNDEF = 0;
    /// <summary>SHN_ABS.</summary>
    public const ushort SHN_ABS = 0xfff1;
    /// <summary>SHN_COMMON.</summary>
    public const ushort SHN_COMMON = 0xfff2;
    /// <summary>SHN_XINDEX.</summary>
    public const ushort SHN_XINDEX = 0xffff;

    /// <summary>ELF_ST_TYPE.</summary>
    public SymbolType Type => (SymbolType)(Info & 0xf);
    /// <summary>ELF_ST_BIND.</summary>
    public SymbolBinding Binding => (SymbolBinding)(Info >> 4);
    /// <summary>ELF_ST_VISIBILITY.</summary>
    public SymbolVisibility Visibility => (SymbolVisibility)(Other & 0x3);
    /// <summary>True when the symbol is a reference (st_shndx == SHN_UNDEF).</summary>
    public bool IsUndefined => SectionIndex == SHN_UNDEF;

    internal static int SizeFor(ElfClass elfClass) => elfClass == ElfClass.Elf64 ? 24 : 16;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal static ElfSymbol Read(ReadOnlySpan<byte> s, ElfEncoding enc) => enc.Is64
        ? new ElfSymbol(enc.U32(s, 0), enc.U64(s, 8), enc.U64(s, 16), s[4], s[5], enc.U16(s, 6))
        : new ElfSymbol(enc.U32(s, 0), enc.U32(s, 4), enc.U32(s, 8), s[12], s[13], enc.U16(s, 14));
}
