namespace Loader.Elf;

/// <summary>One section header (<c>Elf32_Shdr</c>/<c>Elf64_Shdr</c>). <see cref="Name"/> is resolved through e_shstrndx.</summary>
public readonly record struct SectionHeader(
    uint NameOffset,
    SectionType Type,
    SectionFlags Flags,
    ulong Address,
    ulong Offset,
    ulong Size,
    uint Link,
    uint Info,
    ulong AddressAlignment,
    ulong EntrySize)
{
    /// <summary>sizeof(Elf32_Shdr).</summary>
    public const int Size32 = 40;
    /// <summary>sizeof(Elf64_Shdr).</summary>
    public const int Size64 = 64;

    /// <summary>The section's name, or empty when the file has no section name table.</summary>
    public string Name { get; init; } = "";

    /// <summary>The entry size for a class.</summary>
    public static int SizeFor(ElfClass elfClass) => elfClass == ElfClass.Elf64 ? Size64 : Size32;

    internal static SectionHeader Read(ReadOnlySpan<byte> s, ElfEncoding enc)
    {
        if (enc.Is64)
        {
            return new SectionHeader(
                enc.U32(s, 0), (SectionType)enc.U32(s, 4), (SectionFlags)enc.U64(s, 8), enc.U64(s, 16),
                enc.U64(s, 24), enc.U64(s, 32), enc.U32(s, 40), enc.U32(s, 44), enc.U64(s, 48), enc.U64(s, 56));
        }
        return new SectionHeader(
            enc.U32(s, 0), (SectionType)enc.U32(s, 4), (SectionFlags)enc.U32(s, 8), enc.U32(s, 12),
            enc.U32(s, 16), enc.U32(s, 20), enc.U32(s, 24), enc.U32(s, 28), enc.U32(s, 32), enc.U32(s, 36));
    }
}
