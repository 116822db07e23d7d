using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Loader.Elf;

/// <summary>
/// Reads ELF fields in the object's own byte order and word size. Callers slice a checked span first,
/// so every read here is in range by construction.
/// </summary>
public readonly struct ElfEncoding
{
    /// <summary>Creates an encoding for a class and byte order.</summary>
    public ElfEncoding(ElfClass elfClass, ElfData data)
    {
        Class = elfClass;
        Data = data;
    }

    /// <summary>ELFCLASS32 or ELFCLASS64.</summary>
    public ElfClass Class { get; }

    /// <summary>Little or big endian.</summary>
    public ElfData Data { get; }

    /// <summary>True for ELFCLASS64.</summary>
    public bool Is64 => Class == ElfClass.Elf64;

    /// <summary>True for ELFDATA2MSB.</summary>
    public bool IsBigEndian => Data == ElfData.BigEndian;

    /// <summary>The size of an address or offset: 4 or 8.</summary>
    public int WordSize => Is64 ? 8 : 4;

    /// <summary>Reads an Elf_Half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort U16(ReadOnlySpan<byte> s, int offset) => IsBigEndian
        ? BinaryPrimitives.ReadUInt16BigEndian(s[offset..])
        : BinaryPrimitives.ReadUInt16LittleEndian(s[offset..]);

    /// <summary>Reads an Elf_Word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint U32(ReadOnlySpan<byte> s, int offset) => IsBigEndian
        ? BinaryPrimitives.ReadUInt32BigEndian(s[offset..])
        : BinaryPrimitives.ReadUInt32LittleEndian(s[offset..]);

    /// <summary>Reads an Elf64_Xword.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong U64(ReadOnlySpan<byte> s, int offset) => IsBigEndian
        ? BinaryPrimitives.ReadUInt64BigEndian(s[offset..])
        : BinaryPrimitives.ReadUInt64LittleEndian(s[offset..]);

    /// <summary>Reads an address-sized field (Elf32_Addr or Elf64_Addr), zero-extended.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Word(ReadOnlySpan<byte> s, int offset) => Is64 ? U64(s, offset) : U32(s, offset);

    /// <summary>Reads a signed address-sized field (Elf32_Sword/Sxword), sign-extended.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long SignedWord(ReadOnlySpan<byte> s, int offset) => Is64 ? (long)U64(s, offset) : (int)U32(s, offset);

    /// <summary>Writes an address-sized field (for a copy of a table that is adjusted, never for a file or an image).</summary>
    public void WriteWord(Span<byte> s, int offset, ulong value)
    {
        if (Is64 && IsBigEndian)
            BinaryPrimitives.WriteUInt64BigEndian(s[offset..], value);
        else if (Is64)
            BinaryPrimitives.WriteUInt64LittleEndian(s[offset..], value);
        else if (IsBigEndian)
            BinaryPrimitives.WriteUInt32BigEndian(s[offset..], (uint)value);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(s[offset..], (uint)value);
    }
}
