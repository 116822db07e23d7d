namespace Loader.Elf;

/// <summary>One program header (<c>Elf32_Phdr</c>/<c>Elf64_Phdr</c>).</summary>
public readonly record struct ProgramHeader(
    SegmentType Type,
    SegmentFlags Flags,
    ulong Offset,
    ulong VirtualAddress,
    ulong PhysicalAddress,
    ulong FileSize,
    ulong MemorySize,
    ulong Alignment)
{
    /// <summary>sizeof(Elf32_Phdr).</summary>
    public const int Size32 = 32;
    /// <summary>sizeof(Elf64_Phdr).</summary>
    public const int Size64 = 56;

    /// <summary>The entry size for a class.</summary>
    public static int SizeFor(ElfClass elfClass) => elfClass == ElfClass.Elf64 ? Size64 : Size32;

    internal static ProgramHeader Read(ReadOnlySpan<byte> s, ElfEncoding enc)
    {
        if (enc.Is64)
        {
            return new ProgramHeader(
                (SegmentType)enc.U32(s, 0), (SegmentFlags)enc.U32(s, 4),
                enc.U64(s, 8), enc.U64(s, 16), enc.U64(s, 24), enc.U64(s, 32), enc.U64(s, 40), enc.U64(s, 48));
        }
        return new ProgramHeader(
            (SegmentType)enc.U32(s, 0), (SegmentFlags)enc.U32(s, 24),
            enc.U32(s, 4), enc.U32(s, 8), enc.U32(s, 12), enc.U32(s, 16), enc.U32(s, 20), enc.U32(s, 28));
    }
}
