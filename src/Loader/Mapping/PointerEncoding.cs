using System.Buffers.Binary;

namespace Loader.Mapping;

/// <summary>
/// DWARF's pointer encodings (DW_EH_PE_*, LSB "DWARF Extensions"; libgcc's unwind-pe.h), as the unwind tables use
/// them: the low nibble is the value's format, bits 4–6 what it is relative to, bit 7 an indirection. The sizes and
/// values here are read as libgcc reads them, little-endian.
/// </summary>
internal static class PointerEncoding
{
    public const byte Omit = 0xff;
    public const byte FormatMask = 0x0f, ApplicationMask = 0x70, Indirect = 0x80;
    public const byte Absptr = 0x00, Uleb128 = 0x01, Udata2 = 0x02, Udata4 = 0x03, Udata8 = 0x04;
    public const byte Sleb128 = 0x09, Sdata2 = 0x0a, Sdata4 = 0x0b, Sdata8 = 0x0c;
    public const byte PcRel = 0x10, TextRel = 0x20, DataRel = 0x30, Aligned = 0x50;

    /// <summary>The size of a value in <paramref name="encoding"/>'s format: 2, 4 or 8; 0 for a LEB128 (its size is
    /// in its bytes); -1 for a format libgcc has no case for (it aborts).</summary>
    public static int FixedSize(int encoding) => (encoding & FormatMask) switch
    {
        Absptr or Udata8 or Sdata8 => 8,
        Udata2 or Sdata2 => 2,
        Udata4 or Sdata4 => 4,
        Uleb128 or Sleb128 => 0,
        _ => -1,
    };

    /// <summary>A fixed-size value in <paramref name="encoding"/>'s format, widened as libgcc widens it (a signed
    /// format sign-extends); <paramref name="bytes"/> holds at least <see cref="FixedSize"/> bytes.</summary>
    public static ulong Read(ReadOnlySpan<byte> bytes, int encoding) => (encoding & FormatMask) switch
    {
        Udata2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
        Udata4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
        Sdata2 => (ulong)(long)BinaryPrimitives.ReadInt16LittleEndian(bytes),
        Sdata4 => (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(bytes),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes), // absptr, udata8, sdata8
    };
}
