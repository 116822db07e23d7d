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
        if (bytes.Length < IdentSize)
            ThrowHelper.Format(fileName, "e_ident", 0, $"file is {bytes.Length} bytes, shorter than the 16-byte ELF identification");
        if (bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
            ThrowHelper.Format(fileName, "e_ident[EI_MAG]", 0, $"bad magic {bytes[0]:x2} {bytes[1]:x2} {bytes[2]:x2} {bytes[3]:x2}, expected 7f 45 4c 46 (\\x7fELF)");
        var elfClass = (ElfClass)bytes[4];
        if (elfClass is not (ElfClass.Elf32 or ElfClass.Elf64))
            ThrowHelper.Format(fileName, "e_ident[EI_CLASS]", 4, $"invalid class {bytes[4]}, expected 1 (ELFCLASS32) or 2 (ELFCLASS64)");
        var data = (ElfData)bytes[5];
        if (data is not (ElfData.LittleEndian or ElfData.BigEndian))
            ThrowHelper.Format(fileName, "e_ident[EI_DATA]", 5, $"invalid data encoding {bytes[5]}, expected 1 (ELFDATA2LSB) or 2 (ELFDATA2MSB)");
        if (bytes[6] != 1)
            ThrowHelper.Format(fileName, "e_ident[EI_VERSION]", 6, $"invalid version {bytes[6]}, expected 1 (EV_CURRENT)");

        var enc = new ElfEncoding(elfClass, data);
        int size = enc.Is64 ? Size64 : Size32;
        if (bytes.Length < size)
            ThrowHelper.Format(fileName, "ELF header", (ulong)bytes.Length, $"file is {bytes.Length} bytes, shorter than the {size}-byte {(enc.Is64 ? "Elf64_Ehdr" : "Elf32_Ehdr")}");

        // Field offsets differ only by the three word-sized fields (e_entry, e_phoff, e_shoff).
        int w = enc.WordSize;
        int afterWords = 24 + 3 * w;
        var header = new ElfHeader
        {
            Class = elfClass,
            Data = data,
            OsAbi = bytes[7],
            AbiVersion = bytes[8],
            Type = (ElfType)enc.U16(bytes, 16),
            Machine = (ElfMachine)enc.U16(bytes, 18),
            Version = enc.U32(bytes, 20),
            Entry = enc.Word(bytes, 24),
            ProgramHeaderOffset = enc.Word(bytes, 24 + w),
            SectionHeaderOffset = enc.Word(bytes, 24 + 2 * w),
            Flags = enc.U32(bytes, afterWords),
            HeaderSize = enc.U16(bytes, afterWords + 4),
            ProgramHeaderEntrySize = enc.U16(bytes, afterWords + 6),
            ProgramHeaderCount = enc.U16(bytes, afterWords + 8),
            SectionHeaderEntrySize = enc.U16(bytes, afterWords + 10),
            SectionHeaderCount = enc.U16(bytes, afterWords + 12),
            SectionNameTableIndex = enc.U16(bytes, afterWords + 14),
        };
        if (header.HeaderSize < size)
            ThrowHelper.Format(fileName, "e_ehsize", (ulong)(afterWords + 4), $"{header.HeaderSize} is smaller than the {size}-byte header");
        return header;
    }
}
