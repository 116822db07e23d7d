using Loader.Elf;
using Loader.Tests.Oracles;

namespace Loader.Tests.Elf;

/// <summary>How readelf spells our enums; null where readelf prints something machine-specific we don't compare.</summary>
internal static class ReadelfNames
{
    public static string? Segment(SegmentType type) => type switch
    {
        SegmentType.Null => "NULL",
        SegmentType.Load => "LOAD",
        SegmentType.Dynamic => "DYNAMIC",
        SegmentType.Interp => "INTERP",
        SegmentType.Note => "NOTE",
        SegmentType.ShLib => "SHLIB",
        SegmentType.Phdr => "PHDR",
        SegmentType.Tls => "TLS",
        SegmentType.GnuEhFrame => "GNU_EH_FRAME",
        SegmentType.GnuStack => "GNU_STACK",
        SegmentType.GnuRelro => "GNU_RELRO",
        SegmentType.GnuProperty => "GNU_PROPERTY",
        _ => null,
    };

    public static string? SymbolType(SymbolType type) => type switch
    {
        Loader.Elf.SymbolType.NoType => "NOTYPE",
        Loader.Elf.SymbolType.Object => "OBJECT",
        Loader.Elf.SymbolType.Func => "FUNC",
        Loader.Elf.SymbolType.Section => "SECTION",
        Loader.Elf.SymbolType.File => "FILE",
        Loader.Elf.SymbolType.Common => "COMMON",
        Loader.Elf.SymbolType.Tls => "TLS",
        Loader.Elf.SymbolType.GnuIfunc => "IFUNC",
        _ => null,
    };

    /// <summary>readelf calls binding 10 UNIQUE only when EI_OSABI is ELFOSABI_GNU (3); otherwise it is "OS specific".</summary>
    public static string? Binding(SymbolBinding binding, byte osAbi) => binding switch
    {
        SymbolBinding.Local => "LOCAL",
        SymbolBinding.Global => "GLOBAL",
        SymbolBinding.Weak => "WEAK",
        SymbolBinding.GnuUnique => osAbi == 3 ? "UNIQUE" : "<OS specific>: 10",
        _ => null,
    };

    public static string Visibility(SymbolVisibility visibility) => visibility.ToString().ToUpperInvariant();

    public static string SectionIndex(ushort index) => index switch
    {
        ElfSymbol.SHN_UNDEF => "UND",
        ElfSymbol.SHN_ABS => "ABS",
        ElfSymbol.SHN_COMMON => "COM",
        _ => index.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static ReadelfVersionKind VersionKind(SymbolVersionKind kind) => kind switch
    {
        SymbolVersionKind.Default => ReadelfVersionKind.Default,
        SymbolVersionKind.Hidden => ReadelfVersionKind.Hidden,
        SymbolVersionKind.Needed => ReadelfVersionKind.Reference,
        _ => ReadelfVersionKind.None,
    };
}
