namespace Loader.Elf;

/// <summary>The ELF file header (<c>Elf32_Ehdr</c>/<c>Elf64_Ehdr</c>), as stored: extended numbering is resolved by <see cref="ElfFile"/>.</summary>
public readonly record struct ElfHeader
{
    /// <summary>The size of e_ident.</summary>
    public const int IdentSize = 16;
    /// <summary>sizeof(Elf32_Ehdr).</summary>
    public const int Size32 = 52;
    /// <summary>sizeof(Elf64_Ehdr).</summary>
    public const int Size64 = 64;
    /// <summary>e_phnum's escape value: the real count is in section 0's sh_info.</summary>
    public const ushort PN_XNUM = 0xffff;
    /// <summary>e_shstrndx's escape value: the real index is in section 0's sh_link.</summary>
    public const ushort SHN_XINDEX = 0xffff;

    // Indexes into e_ident (gABI, "ELF Identification").
    internal const int EI_CLASS = 4;
    internal const int EI_DATA = 5;
    internal const int EI_VERSION = 6;
    internal const int EI_OSABI = 7;
    internal const int EI_ABIVERSION = 8;
    internal const int EI_PAD = 9;
    /// <summary>EV_CURRENT, the only e_ident[EI_VERSION] and e_version there is.</summary>
    internal const uint EV_CURRENT = 1;
    /// <summary>e_ident[EI_OSABI] values: System V (0) and GNU/Linux (3).</summary>
    internal const byte ELFOSABI_SYSV = 0, ELFOSABI_GNU = 3;

    /// <summary>e_ident[EI_MAG0..EI_MAG3]: \x7fELF.</summary>
    internal static ReadOnlySpan<byte> Magic => [0x7f, (byte)'E', (byte)'L', (byte)'F'];

    /// <summary>The fields after e_ident, in their order in the header.</summary>
    internal enum Field
    {
        Type, Machine, Version, Entry, ProgramHeaderOffset, SectionHeaderOffset, Flags,
        HeaderSize, ProgramHeaderEntrySize, ProgramHeaderCount, SectionHeaderEntrySize, SectionHeaderCount, SectionNameTableIndex,
    }

    /// <summary>The byte offset of <paramref name="field"/> in an <c>Elf32_Ehdr</c> or <c>Elf64_Ehdr</c>.</summary>
    internal static int OffsetOf(Field field, ElfClass elfClass)
    {
        // The classes agree up to e_version; e_entry, e_phoff and e_shoff are words, then come the 32-bit e_flags
        // and six 16-bit halves (gABI, "ELF Header").
        int w = elfClass == ElfClass.Elf64 ? 8 : 4;
        return field switch
        {
            Field.Type => IdentSize,
            Field.Machine => IdentSize + 2,
            Field.Version => IdentSize + 4,
            Field.Entry => IdentSize + 8,
            Field.ProgramHeaderOffset => IdentSize + 8 + w,
            Field.SectionHeaderOffset => IdentSize + 8 + 2 * w,
            Field.Flags => IdentSize + 8 + 3 * w,
            _ => IdentSize + 8 + 3 * w + 4 + 2 * (field - Field.HeaderSize),
        };
    }

    /// <summary>ELFCLASS32 or ELFCLASS64.</summary>
    public ElfClass Class { get; init; }
    /// <summary>Byte order.</summary>
    public ElfData Data { get; init; }
    /// <summary>e_ident[EI_OSABI].</summary>
    public byte OsAbi { get; init; }
    /// <summary>e_ident[EI_ABIVERSION].</summary>
    public byte AbiVersion { get; init; }
    /// <summary>e_type.</summary>
    public ElfType Type { get; init; }
    /// <summary>e_machine.</summary>
    public ElfMachine Machine { get; init; }
    /// <summary>e_version.</summary>
    public uint Version { get; init; }
    /// <summary>e_entry.</summary>
    public ulong Entry { get; init; }
    /// <summary>e_phoff.</summary>
    public ulong ProgramHeaderOffset { get; init; }
    /// <summary>e_shoff.</summary>
    public ulong SectionHeaderOffset { get; init; }
    /// <summary>e_flags.</summary>
    public uint Flags { get; init; }
    /// <summary>e_ehsize.</summary>
    public ushort HeaderSize { get; init; }
    /// <summary>e_phentsize.</summary>
    public ushort ProgramHeaderEntrySize { get; init; }
    /// <summary>e_phnum as stored (may be PN_XNUM).</summary>
    public ushort ProgramHeaderCount { get; init; }
    /// <summary>e_shentsize.</summary>
    public ushort SectionHeaderEntrySize { get; init; }
    /// <summary>e_shnum as stored (0 with e_shoff set means: read section 0).</summary>
    public ushort SectionHeaderCount { get; init; }
    /// <summary>e_shstrndx as stored (may be SHN_XINDEX).</summary>
    public ushort SectionNameTableIndex { get; init; }

    /// <summary>Decodes and checks the header at the start of <paramref name="bytes"/>.</summary>
    internal static ElfHeader Read(ReadOnlySpan<byte> bytes, string fileName)
    {
        // A file whose first bytes are not (a prefix of) \x7fELF is named for what it is; one that is, but stops
        // before the end of e_ident, is a truncated ELF file.
        if (!bytes.IsEmpty && !bytes[..Math.Min(bytes.Length, Magic.Length)].SequenceEqual(Magic[..Math.Min(bytes.Length, Magic.Length)]))
            ThrowHelper.NotElf(fileName, bytes);
        if (bytes.Length < IdentSize)
            ThrowHelper.Format(fileName, "e_ident", 0, bytes.IsEmpty
                ? "the file is empty (0 bytes), shorter than the 16-byte ELF identification"
                : $"file is {bytes.Length} bytes, shorter than the 16-byte ELF identification");
        var elfClass = (ElfClass)bytes[EI_CLASS];
        if (elfClass is not (ElfClass.Elf32 or ElfClass.Elf64))
            ThrowHelper.Format(fileName, "e_ident[EI_CLASS]", EI_CLASS, $"invalid class {bytes[EI_CLASS]}, expected 1 (ELFCLASS32) or 2 (ELFCLASS64)");
        var data = (ElfData)bytes[EI_DATA];
        if (data is not (ElfData.LittleEndian or ElfData.BigEndian))
            ThrowHelper.Format(fileName, "e_ident[EI_DATA]", EI_DATA, $"invalid data encoding {bytes[EI_DATA]}, expected 1 (ELFDATA2LSB) or 2 (ELFDATA2MSB)");
        if (bytes[EI_VERSION] != EV_CURRENT)
            ThrowHelper.Format(fileName, "e_ident[EI_VERSION]", EI_VERSION, $"invalid version {bytes[EI_VERSION]}, expected 1 (EV_CURRENT)");

        var enc = new ElfEncoding(elfClass, data);
        int size = enc.Is64 ? Size64 : Size32;
        if (bytes.Length < size)
            ThrowHelper.Format(fileName, "ELF header", (ulong)bytes.Length, $"file is {bytes.Length} bytes, shorter than the {size}-byte {(enc.Is64 ? "Elf64_Ehdr" : "Elf32_Ehdr")}");

        var header = Decode(bytes, enc);
        if (header.HeaderSize < size)
            ThrowHelper.Format(fileName, "e_ehsize", (ulong)OffsetOf(Field.HeaderSize, elfClass), $"{header.HeaderSize} is smaller than the {size}-byte header");
        return header;
    }

    /// <summary>
    /// Decodes the fields without checking them; <paramref name="bytes"/> holds at least the whole header of
    /// <paramref name="enc"/>'s class (glibc's <c>open_verify</c> checks its own subset, in its own order).
    /// </summary>
    internal static ElfHeader Decode(ReadOnlySpan<byte> bytes, ElfEncoding enc)
    {
        int At(Field field) => OffsetOf(field, enc.Class);
        return new ElfHeader
        {
            Class = enc.Class,
            Data = enc.Data,
            OsAbi = bytes[EI_OSABI],
            AbiVersion = bytes[EI_ABIVERSION],
            Type = (ElfType)enc.U16(bytes, At(Field.Type)),
            Machine = (ElfMachine)enc.U16(bytes, At(Field.Machine)),
            Version = enc.U32(bytes, At(Field.Version)),
            Entry = enc.Word(bytes, At(Field.Entry)),
            ProgramHeaderOffset = enc.Word(bytes, At(Field.ProgramHeaderOffset)),
            SectionHeaderOffset = enc.Word(bytes, At(Field.SectionHeaderOffset)),
            Flags = enc.U32(bytes, At(Field.Flags)),
            HeaderSize = enc.U16(bytes, At(Field.HeaderSize)),
            ProgramHeaderEntrySize = enc.U16(bytes, At(Field.ProgramHeaderEntrySize)),
            ProgramHeaderCount = enc.U16(bytes, At(Field.ProgramHeaderCount)),
            SectionHeaderEntrySize = enc.U16(bytes, At(Field.SectionHeaderEntrySize)),
            SectionHeaderCount = enc.U16(bytes, At(Field.SectionHeaderCount)),
            SectionNameTableIndex = enc.U16(bytes, At(Field.SectionNameTableIndex)),
        };
    }
}
