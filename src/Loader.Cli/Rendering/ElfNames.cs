using Loader.Elf;

namespace Loader.Cli.Rendering;

/// <summary>
/// The words people read ELF values in: the spellings <c>readelf</c> prints (<c>FUNC</c>, <c>GLOBAL</c>,
/// <c>GNU_RELRO</c>, <c>FLAGS_1</c>), so output can be compared line by line. A value without a name prints as
/// its number.
/// </summary>
internal static class ElfNames
{
    /// <summary>An address or offset as <c>0x…</c>.</summary>
    public static string Hex(ulong value) => "0x" + value.ToString("x");

    /// <summary>An address zero-padded to the class's width, as readelf's tables print it.</summary>
    public static string Address(ulong value, ElfClass elfClass) => value.ToString(elfClass == ElfClass.Elf64 ? "x16" : "x8");

    /// <summary>A signed value in hex: <c>0x10</c>, <c>-0x8</c>.</summary>
    public static string SignedHex(long value) => value < 0 ? "-0x" + ((ulong)-value).ToString("x") : "0x" + value.ToString("x");

    public static string Class(ElfClass value) => value switch
    {
        ElfClass.Elf32 => "ELF32",
        ElfClass.Elf64 => "ELF64",
        _ => Unknown((ulong)value),
    };

    public static string Data(ElfData value) => value switch
    {
        ElfData.LittleEndian => "2's complement, little endian",
        ElfData.BigEndian => "2's complement, big endian",
        _ => Unknown((ulong)value),
    };

    /// <summary>e_ident[EI_OSABI], as readelf names the common ones.</summary>
    public static string OsAbi(byte value) => value switch
    {
        0 => "UNIX - System V",
        1 => "UNIX - HP-UX",
        2 => "UNIX - NetBSD",
        3 => "UNIX - GNU",
        6 => "UNIX - Solaris",
        9 => "UNIX - FreeBSD",
        12 => "UNIX - OpenBSD",
        97 => "ARM",
        255 => "Standalone App",
        _ => $"<unknown: {value:x}>",
    };

    /// <summary>e_type as readelf words it; a shared object with DF_1_PIE set is a position-independent executable.</summary>
    public static string Type(ElfFile elf) =>
        elf.Header.Type == ElfType.SharedObject && elf.Dynamic is { } dynamic && (dynamic.Flags1 & Elf.DynamicFlags1.Pie) != 0
            ? "DYN (Position-Independent Executable file)"
            : Type(elf.Header.Type);

    public static string Type(ElfType value) => value switch
    {
        ElfType.None => "NONE (None)",
        ElfType.Relocatable => "REL (Relocatable file)",
        ElfType.Executable => "EXEC (Executable file)",
        ElfType.SharedObject => "DYN (Shared object file)",
        ElfType.Core => "CORE (Core file)",
        _ => Unknown((ulong)value),
    };

    public static string Machine(ElfMachine value) => value switch
    {
        ElfMachine.None => "None",
        ElfMachine.Sparc => "Sparc",
        ElfMachine.I386 => "Intel 80386",
        ElfMachine.Mips => "MIPS R3000",
        ElfMachine.PowerPC => "PowerPC",
        ElfMachine.PowerPC64 => "PowerPC64",
        ElfMachine.S390 => "IBM S/390",
        ElfMachine.Arm => "ARM",
        ElfMachine.SparcV9 => "Sparc v9",
        ElfMachine.X86_64 => "Advanced Micro Devices X86-64",
        ElfMachine.AArch64 => "AArch64",
        ElfMachine.RiscV => "RISC-V",
        ElfMachine.LoongArch => "LoongArch",
        _ => Unknown((ulong)value),
    };

    public static string SegmentType(SegmentType value) => value switch
    {
        Elf.SegmentType.Null => "NULL",
        Elf.SegmentType.Load => "LOAD",
        Elf.SegmentType.Dynamic => "DYNAMIC",
        Elf.SegmentType.Interp => "INTERP",
        Elf.SegmentType.Note => "NOTE",
        Elf.SegmentType.ShLib => "SHLIB",
        Elf.SegmentType.Phdr => "PHDR",
        Elf.SegmentType.Tls => "TLS",
        Elf.SegmentType.GnuEhFrame => "GNU_EH_FRAME",
        Elf.SegmentType.GnuStack => "GNU_STACK",
        Elf.SegmentType.GnuRelro => "GNU_RELRO",
        Elf.SegmentType.GnuProperty => "GNU_PROPERTY",
        Elf.SegmentType.GnuSFrame => "GNU_SFRAME",
        _ => Unknown((ulong)value),
    };

    /// <summary>p_flags as readelf prints them: three letters or blanks, <c>R E</c>, <c>RW </c>.</summary>
    public static string SegmentFlags(SegmentFlags value) => string.Concat(
        (value & Elf.SegmentFlags.Read) != 0 ? "R" : " ",
        (value & Elf.SegmentFlags.Write) != 0 ? "W" : " ",
        (value & Elf.SegmentFlags.Execute) != 0 ? "E" : " ");

    public static string SectionType(SectionType value, ElfMachine machine) => value switch
    {
        Elf.SectionType.Null => "NULL",
        Elf.SectionType.ProgBits => "PROGBITS",
        Elf.SectionType.SymTab => "SYMTAB",
        Elf.SectionType.StrTab => "STRTAB",
        Elf.SectionType.Rela => "RELA",
        Elf.SectionType.Hash => "HASH",
        Elf.SectionType.Dynamic => "DYNAMIC",
        Elf.SectionType.Note => "NOTE",
        Elf.SectionType.NoBits => "NOBITS",
        Elf.SectionType.Rel => "REL",
        Elf.SectionType.ShLib => "SHLIB",
        Elf.SectionType.DynSym => "DYNSYM",
        Elf.SectionType.InitArray => "INIT_ARRAY",
        Elf.SectionType.FiniArray => "FINI_ARRAY",
        Elf.SectionType.PreinitArray => "PREINIT_ARRAY",
        Elf.SectionType.Group => "GROUP",
        Elf.SectionType.SymTabShndx => "SYMTAB SECTION INDICES",
        Elf.SectionType.Relr => "RELR",
        Elf.SectionType.GnuAttributes => "GNU_ATTRIBUTES",
        Elf.SectionType.GnuHash => "GNU_HASH",
        Elf.SectionType.GnuLibList => "GNU_LIBLIST",
        Elf.SectionType.GnuVerDef => "VERDEF",
        Elf.SectionType.GnuVerNeed => "VERNEED",
        Elf.SectionType.GnuVerSym => "VERSYM",
        (Elf.SectionType)0x70000001 when machine == ElfMachine.X86_64 => "X86_64_UNWIND",
        _ => Unknown((ulong)value),
    };

    /// <summary>sh_flags as readelf's key letters: <c>WA</c>, <c>AX</c>, <c>AMS</c>; unnamed bits add <c>x</c>.</summary>
    public static string SectionFlags(SectionFlags value)
    {
        const ulong ShfExclude = 0x80000000;
        var letters = new System.Text.StringBuilder();
        ReadOnlySpan<(ulong Bit, char Letter)> known =
        [
            ((ulong)Elf.SectionFlags.Write, 'W'), ((ulong)Elf.SectionFlags.Alloc, 'A'), ((ulong)Elf.SectionFlags.ExecInstr, 'X'),
            ((ulong)Elf.SectionFlags.Merge, 'M'), ((ulong)Elf.SectionFlags.Strings, 'S'), ((ulong)Elf.SectionFlags.InfoLink, 'I'),
            ((ulong)Elf.SectionFlags.LinkOrder, 'L'), ((ulong)Elf.SectionFlags.OsNonconforming, 'O'), ((ulong)Elf.SectionFlags.Group, 'G'),
            ((ulong)Elf.SectionFlags.Tls, 'T'), ((ulong)Elf.SectionFlags.Compressed, 'C'), (ShfExclude, 'E'),
        ];
        ulong rest = (ulong)value;
        foreach (var (bit, letter) in known)
        {
            if ((rest & bit) != 0)
                letters.Append(letter);
            rest &= ~bit;
        }
        if (rest != 0)
            letters.Append('x');
        return letters.ToString();
    }

    public static string SymbolType(SymbolType value) => value switch
    {
        Elf.SymbolType.NoType => "NOTYPE",
        Elf.SymbolType.Object => "OBJECT",
        Elf.SymbolType.Func => "FUNC",
        Elf.SymbolType.Section => "SECTION",
        Elf.SymbolType.File => "FILE",
        Elf.SymbolType.Common => "COMMON",
        Elf.SymbolType.Tls => "TLS",
        Elf.SymbolType.GnuIfunc => "IFUNC",
        _ => $"<unknown>: {(byte)value}",
    };

    public static string Binding(SymbolBinding value) => value switch
    {
        SymbolBinding.Local => "LOCAL",
        SymbolBinding.Global => "GLOBAL",
        SymbolBinding.Weak => "WEAK",
        SymbolBinding.GnuUnique => "UNIQUE",
        _ => $"<unknown>: {(byte)value}",
    };

    public static string Visibility(SymbolVisibility value) => value switch
    {
        SymbolVisibility.Default => "DEFAULT",
        SymbolVisibility.Internal => "INTERNAL",
        SymbolVisibility.Hidden => "HIDDEN",
        SymbolVisibility.Protected => "PROTECTED",
        _ => $"<unknown>: {(byte)value}",
    };

    /// <summary>st_shndx as readelf's Ndx column: <c>UND</c>, <c>ABS</c>, <c>COM</c>, or the section number.</summary>
    public static string SectionIndex(ushort value) => value switch
    {
        ElfSymbol.SHN_UNDEF => "UND",
        ElfSymbol.SHN_ABS => "ABS",
        ElfSymbol.SHN_COMMON => "COM",
        ElfSymbol.SHN_XINDEX => "XINDEX",
        _ => value.ToString(),
    };

    /// <summary>d_tag without its <c>DT_</c> prefix, as readelf spells it; an unnamed tag prints as its number.</summary>
    public static string DynamicTag(long raw) => (DynamicTag)raw switch
    {
        Elf.DynamicTag.Null => "NULL",
        Elf.DynamicTag.Needed => "NEEDED",
        Elf.DynamicTag.PltRelSz => "PLTRELSZ",
        Elf.DynamicTag.PltGot => "PLTGOT",
        Elf.DynamicTag.Hash => "HASH",
        Elf.DynamicTag.StrTab => "STRTAB",
        Elf.DynamicTag.SymTab => "SYMTAB",
        Elf.DynamicTag.Rela => "RELA",
        Elf.DynamicTag.RelaSz => "RELASZ",
        Elf.DynamicTag.RelaEnt => "RELAENT",
        Elf.DynamicTag.StrSz => "STRSZ",
        Elf.DynamicTag.SymEnt => "SYMENT",
        Elf.DynamicTag.Init => "INIT",
        Elf.DynamicTag.Fini => "FINI",
        Elf.DynamicTag.SoName => "SONAME",
        Elf.DynamicTag.RPath => "RPATH",
        Elf.DynamicTag.Symbolic => "SYMBOLIC",
        Elf.DynamicTag.Rel => "REL",
        Elf.DynamicTag.RelSz => "RELSZ",
        Elf.DynamicTag.RelEnt => "RELENT",
        Elf.DynamicTag.PltRel => "PLTREL",
        Elf.DynamicTag.Debug => "DEBUG",
        Elf.DynamicTag.TextRel => "TEXTREL",
        Elf.DynamicTag.JmpRel => "JMPREL",
        Elf.DynamicTag.BindNow => "BIND_NOW",
        Elf.DynamicTag.InitArray => "INIT_ARRAY",
        Elf.DynamicTag.FiniArray => "FINI_ARRAY",
        Elf.DynamicTag.InitArraySz => "INIT_ARRAYSZ",
        Elf.DynamicTag.FiniArraySz => "FINI_ARRAYSZ",
        Elf.DynamicTag.RunPath => "RUNPATH",
        Elf.DynamicTag.Flags => "FLAGS",
        Elf.DynamicTag.PreinitArray => "PREINIT_ARRAY",
        Elf.DynamicTag.PreinitArraySz => "PREINIT_ARRAYSZ",
        Elf.DynamicTag.SymTabShndx => "SYMTAB_SHNDX",
        Elf.DynamicTag.RelrSz => "RELRSZ",
        Elf.DynamicTag.Relr => "RELR",
        Elf.DynamicTag.RelrEnt => "RELRENT",
        Elf.DynamicTag.GnuPrelinked => "GNU_PRELINKED",
        Elf.DynamicTag.GnuConflictSz => "GNU_CONFLICTSZ",
        Elf.DynamicTag.GnuLibListSz => "GNU_LIBLISTSZ",
        Elf.DynamicTag.Checksum => "CHECKSUM",
        Elf.DynamicTag.PltPadSz => "PLTPADSZ",
        Elf.DynamicTag.MoveEnt => "MOVEENT",
        Elf.DynamicTag.MoveSz => "MOVESZ",
        Elf.DynamicTag.Feature1 => "FEATURE",
        Elf.DynamicTag.PosFlag1 => "POSFLAG_1",
        Elf.DynamicTag.SymInSz => "SYMINSZ",
        Elf.DynamicTag.SymInEnt => "SYMINENT",
        Elf.DynamicTag.GnuHash => "GNU_HASH",
        Elf.DynamicTag.TlsDescPlt => "TLSDESC_PLT",
        Elf.DynamicTag.TlsDescGot => "TLSDESC_GOT",
        Elf.DynamicTag.GnuConflict => "GNU_CONFLICT",
        Elf.DynamicTag.GnuLibList => "GNU_LIBLIST",
        Elf.DynamicTag.Config => "CONFIG",
        Elf.DynamicTag.DepAudit => "DEPAUDIT",
        Elf.DynamicTag.Audit => "AUDIT",
        Elf.DynamicTag.PltPad => "PLTPAD",
        Elf.DynamicTag.MoveTab => "MOVETAB",
        Elf.DynamicTag.SymInfo => "SYMINFO",
        Elf.DynamicTag.VerSym => "VERSYM",
        Elf.DynamicTag.RelaCount => "RELACOUNT",
        Elf.DynamicTag.RelCount => "RELCOUNT",
        Elf.DynamicTag.Flags1 => "FLAGS_1",
        Elf.DynamicTag.VerDef => "VERDEF",
        Elf.DynamicTag.VerDefNum => "VERDEFNUM",
        Elf.DynamicTag.VerNeed => "VERNEED",
        Elf.DynamicTag.VerNeedNum => "VERNEEDNUM",
        Elf.DynamicTag.Auxiliary => "AUXILIARY",
        Elf.DynamicTag.Filter => "FILTER",
        _ => "0x" + raw.ToString("x"),
    };

    /// <summary>The DT_FLAGS bits by name (<c>BIND_NOW</c>, <c>STATIC_TLS</c>); unnamed bits as hex.</summary>
    public static List<string> DynamicFlags(DynamicFlags value) => FlagNames((ulong)value, s_flagNames);

    /// <summary>The DT_FLAGS_1 bits by name (<c>NOW</c>, <c>NODELETE</c>, <c>PIE</c>); unnamed bits as hex.</summary>
    public static List<string> DynamicFlags1(DynamicFlags1 value) => FlagNames((ulong)value, s_flags1Names);

    private static readonly string[] s_flagNames = ["ORIGIN", "SYMBOLIC", "TEXTREL", "BIND_NOW", "STATIC_TLS"];

    private static readonly string[] s_flags1Names =
    [
        "NOW", "GLOBAL", "GROUP", "NODELETE", "LOADFLTR", "INITFIRST", "NOOPEN", "ORIGIN", "DIRECT", "TRANS",
        "INTERPOSE", "NODEFLIB", "NODUMP", "CONFALT", "ENDFILTEE", "DISPRELDNE", "DISPRELPND", "NODIRECT",
        "IGNMULDEF", "NOKSYMS", "NOHDR", "EDITED", "NORELOC", "SYMINTPOSE", "GLOBAUDIT", "SINGLETON", "STUB", "PIE",
    ];

    /// <summary>Bit <c>i</c> of <paramref name="value"/> is named <c>names[i]</c>.</summary>
    private static List<string> FlagNames(ulong value, string[] names)
    {
        var result = new List<string>();
        for (int bit = 0; bit < 64; bit++)
        {
            ulong mask = 1UL << bit;
            if ((value & mask) != 0)
                result.Add(bit < names.Length ? names[bit] : Hex(mask));
        }
        return result;
    }

    private static string Unknown(ulong value) => "0x" + value.ToString("x");
}
