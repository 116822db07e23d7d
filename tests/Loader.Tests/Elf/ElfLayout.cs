namespace Loader.Tests.Elf;

/// <summary>
/// Where each part of a built image lies. Every part of LOAD0 has p_vaddr == p_offset; LOAD1 (the dynamic
/// section and .data) has p_vaddr == p_offset + <see cref="ElfImageBuilder.Load1Delta"/>.
/// </summary>
public sealed record ElfLayout
{
    public int HeaderSize { get; init; }
    public int PhdrOffset { get; init; }
    public int PhdrEntrySize { get; init; }
    public int PhdrCount { get; init; }
    public int NoteOffset { get; init; }
    public int NoteSize { get; init; }
    public int DynsymOffset { get; init; }
    public int SymbolEntrySize { get; init; }
    public int SymbolCount { get; init; }
    public int DynstrOffset { get; init; }
    public int DynstrSize { get; init; }
    public int GnuHashOffset { get; init; }
    public int GnuHashSize { get; init; }
    public int HashOffset { get; init; }
    public int HashSize { get; init; }
    public int VersymOffset { get; init; }
    public int VerdefOffset { get; init; }
    public int VerdefSize { get; init; }
    public int VerneedOffset { get; init; }
    public int VerneedSize { get; init; }
    public int RelaOffset { get; init; }
    public int RelaSize { get; init; }
    public int RelaEntrySize { get; init; }
    public int JmprelOffset { get; init; }
    public int JmprelSize { get; init; }
    public int RelrOffset { get; init; }
    public int RelrSize { get; init; }
    public int Load0End { get; init; }
    public int Load1Offset { get; init; }
    public ulong Load1Address { get; init; }
    public int DynamicOffset { get; init; }
    public int DynamicEntrySize { get; init; }
    public int DynamicCount { get; init; }
    public int DataOffset { get; init; }
    public ulong DataAddress { get; init; }
    public int DataFileSize { get; init; }
    public int DataMemorySize { get; init; }
    public int ShstrtabOffset { get; init; }
    public int ShstrtabSize { get; init; }
    public int ShdrOffset { get; init; }
    public int ShdrEntrySize { get; init; }
    public int SectionCount { get; init; }
    public int FileSize { get; init; }

    /// <summary>The virtual address of a LOAD1 file offset.</summary>
    public ulong Load1AddressOf(int fileOffset) => Load1Address + (ulong)(fileOffset - Load1Offset);
}
