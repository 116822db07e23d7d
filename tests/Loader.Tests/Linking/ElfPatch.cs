using System.Buffers.Binary;
using Loader.Elf;

namespace Loader.Tests.Linking;

/// <summary>Edits of a shared object's bytes that tests make to build inputs no toolchain emits.</summary>
internal static class ElfPatch
{
    /// <summary>The file offset of a virtual address inside a PT_LOAD's file bytes.</summary>
    public static ulong FileOffset(ElfFile elf, ulong address)
    {
        foreach (var ph in elf.ProgramHeaders)
            if (ph.Type == SegmentType.Load && address >= ph.VirtualAddress && address < ph.VirtualAddress + ph.FileSize)
                return ph.Offset + (address - ph.VirtualAddress);
        throw new InvalidOperationException($"0x{address:x} is not file-backed");
    }

    /// <summary>Rewrites each dynamic entry (up to DT_NULL) as <paramref name="edit"/>(tag, value) says.</summary>
    public static void EditDynamic(byte[] bytes, ElfFile elf, Func<long, ulong, (long, ulong)> edit)
    {
        var dynamic = elf.ProgramHeaders.Single(p => p.Type == SegmentType.Dynamic);
        for (ulong at = dynamic.Offset; at + 16 <= dynamic.Offset + dynamic.FileSize; at += 16)
        {
            long tag = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan((int)at));
            if (tag == 0)
                break;
            var (newTag, newValue) = edit(tag, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)at + 8)));
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan((int)at), newTag);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)at + 8), newValue);
        }
    }

    /// <summary>Overwrites program header <paramref name="index"/> (ELF64).</summary>
    public static void WriteProgramHeader(byte[] bytes, ElfFile elf, int index, ProgramHeader header)
    {
        int at = (int)elf.Header.ProgramHeaderOffset + index * ProgramHeader.Size64;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), (uint)header.Type);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 4), (uint)header.Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 8), header.Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 16), header.VirtualAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 24), header.PhysicalAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 32), header.FileSize);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 40), header.MemorySize);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 48), header.Alignment);
    }
}
