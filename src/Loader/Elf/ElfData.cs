namespace Loader.Elf;

/// <summary><c>e_ident[EI_DATA]</c>: the byte order of every multi-byte field.</summary>
public enum ElfData : byte
{
    /// <summary>ELFDATA2LSB: little endian.</summary>
    LittleEndian = 1,
    /// <summary>ELFDATA2MSB: big endian.</summary>
    BigEndian = 2,
}
