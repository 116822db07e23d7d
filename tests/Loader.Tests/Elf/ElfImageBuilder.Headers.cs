using System.Text;
using Loader.Elf;

namespace Loader.Tests.Elf;

// The ELF header, the program headers and what the segments hold besides tables (the build-ID note, .data),
// and the section headers with their .shstrtab.
public sealed partial class ElfImageBuilder
{
    private sealed record Section(string Name, uint Type, ulong Flags, ulong Address, int Offset, ulong Size, uint Link, uint Info, ulong Align, ulong EntrySize);

    private void WriteElfHeader(BuiltElf image, ElfLayout layout, int shstrndx)
    {
        int w = WordSize;
        byte[] bytes = image.Bytes;
        bytes[0] = 0x7f; bytes[1] = (byte)'E'; bytes[2] = (byte)'L'; bytes[3] = (byte)'F';
        bytes[4] = (byte)(Is64 ? 2 : 1); bytes[5] = (byte)(BigEndian ? 2 : 1); bytes[6] = 1;
        image.WriteU16(16, 3);                                         // e_type = ET_DYN
        image.WriteU16(18, Machine ?? (Is64 ? EM_X86_64 : EM_386));    // e_machine
        image.WriteU32(20, 1);                                         // e_version
        image.WriteWord(24, 0);                                        // e_entry
        image.WriteWord(24 + w, (ulong)layout.PhdrOffset);             // e_phoff
        image.WriteWord(24 + 2 * w, (ulong)layout.ShdrOffset);         // e_shoff
        int after = 24 + 3 * w;
        image.WriteU32(after, 0);                                      // e_flags
        image.WriteU16(after + 4, (ushort)layout.HeaderSize);
        image.WriteU16(after + 6, (ushort)layout.PhdrEntrySize);
        image.WriteU16(after + 8, PhnumInSection0 ? (ushort)0xffff : (ushort)layout.PhdrCount);
        image.WriteU16(after + 10, (ushort)(SectionHeaders ? layout.ShdrEntrySize : 0));
        image.WriteU16(after + 12, (ushort)(ShnumInSection0 ? 0 : layout.SectionCount));
        image.WriteU16(after + 14, ShstrndxInSection0 ? (ushort)0xffff : (ushort)shstrndx);
    }

    /// <summary>LOAD0 (R), LOAD1 (RW), DYNAMIC, NOTE.</summary>
    private void WriteProgramHeaders(BuiltElf image, ElfLayout layout)
    {
        int ph = layout.PhdrOffset, phentsize = layout.PhdrEntrySize;
        ulong dynamicSize = (ulong)(layout.DynamicCount * layout.DynamicEntrySize);
        WritePhdr(image, ph, 1, 4, 0, 0, (ulong)layout.Load0End, (ulong)layout.Load0End, 0x1000);
        WritePhdr(image, ph += phentsize, 1, 6, (ulong)layout.Load1Offset, layout.Load1Address,
            (ulong)(layout.DataOffset + layout.DataFileSize - layout.Load1Offset), (ulong)(layout.DataOffset + layout.DataMemorySize - layout.Load1Offset), 0x1000);
        WritePhdr(image, ph += phentsize, 2, 6, (ulong)layout.DynamicOffset, layout.Load1AddressOf(layout.DynamicOffset),
            dynamicSize, dynamicSize, (ulong)WordSize);
        if (Note)
            WritePhdr(image, ph += phentsize, 4, 4, (ulong)layout.NoteOffset, (ulong)layout.NoteOffset, (ulong)layout.NoteSize, (ulong)layout.NoteSize, 4);
    }

    private void WritePhdr(BuiltElf image, int o, uint type, uint flags, ulong offset, ulong vaddr, ulong filesz, ulong memsz, ulong align)
    {
        if (Is64)
        {
            image.WriteU32(o, type); image.WriteU32(o + 4, flags); image.WriteU64(o + 8, offset); image.WriteU64(o + 16, vaddr);
            image.WriteU64(o + 24, vaddr); image.WriteU64(o + 32, filesz); image.WriteU64(o + 40, memsz); image.WriteU64(o + 48, align);
        }
        else
        {
            image.WriteU32(o, type); image.WriteU32(o + 4, (uint)offset); image.WriteU32(o + 8, (uint)vaddr); image.WriteU32(o + 12, (uint)vaddr);
            image.WriteU32(o + 16, (uint)filesz); image.WriteU32(o + 20, (uint)memsz); image.WriteU32(o + 24, flags); image.WriteU32(o + 28, (uint)align);
        }
    }

    /// <summary>NT_GNU_BUILD_ID note: namesz 4 ("GNU\0"), descsz 8, type 3, the ID b0 b1 ... b7.</summary>
    private static void WriteBuildIdNote(BuiltElf image, ElfLayout layout)
    {
        int at = layout.NoteOffset;
        image.WriteU32(at, 4); image.WriteU32(at + 4, 8); image.WriteU32(at + 8, 3);
        Encoding.ASCII.GetBytes("GNU\0").CopyTo(image.Bytes, at + 12);
        for (int i = 0; i < 8; i++)
            image.Bytes[at + 16 + i] = (byte)(0xb0 + i);
    }

    /// <summary>.data's bytes: 0x40, 0x41, ... (the relocations then land on them).</summary>
    private static void WriteData(BuiltElf image, ElfLayout layout)
    {
        for (int i = 0; i < layout.DataFileSize; i++)
            image.Bytes[layout.DataOffset + i] = (byte)(0x40 + i);
    }

    /// <summary>The section headers (index 0 the null one; just that without <see cref="SectionHeaders"/>), .shstrtab
    /// last with its size still 0: its names decide its size, which <see cref="WriteSectionHeaders"/> fills in.</summary>
    private List<Section> SectionTable(ElfLayout layout, int symoffset, int shstrtabOffset)
    {
        var sections = new List<Section> { new("", 0, 0, 0, 0, 0, 0, 0, 0, 0) };
        if (!SectionHeaders)
            return sections;
        const ulong A = 2, WA = 3;
        var l = layout;
        int symentsize = l.SymbolEntrySize, symCount = l.SymbolCount, relaentsize = l.RelaEntrySize, dynentsize = l.DynamicEntrySize, w = WordSize;
        if (Note) sections.Add(new(".note.gnu.build-id", (uint)SectionType.Note, A, (ulong)l.NoteOffset, l.NoteOffset, (ulong)l.NoteSize, 0, 0, 4, 0));
        int dynsymIndex = sections.Count;
        sections.Add(new(".dynsym", (uint)SectionType.DynSym, A, (ulong)l.DynsymOffset, l.DynsymOffset, (ulong)(symCount * symentsize), (uint)dynsymIndex + 1, (uint)symoffset, 8, (ulong)symentsize));
        sections.Add(new(".dynstr", (uint)SectionType.StrTab, A, (ulong)l.DynstrOffset, l.DynstrOffset, (ulong)l.DynstrSize, 0, 0, 1, 0));
        if (Hashes != HashStyle.Sysv) sections.Add(new(".gnu.hash", 0x6ffffff6, A, (ulong)l.GnuHashOffset, l.GnuHashOffset, (ulong)l.GnuHashSize, (uint)dynsymIndex, 0, 8, 0));
        if (Hashes != HashStyle.Gnu) sections.Add(new(".hash", 5, A, (ulong)l.HashOffset, l.HashOffset, (ulong)l.HashSize, (uint)dynsymIndex, 0, 4, 4));
        if (Versions)
        {
            sections.Add(new(".gnu.version", 0x6fffffff, A, (ulong)l.VersymOffset, l.VersymOffset, (ulong)(symCount * 2), (uint)dynsymIndex, 0, 2, 2));
            sections.Add(new(".gnu.version_d", 0x6ffffffd, A, (ulong)l.VerdefOffset, l.VerdefOffset, (ulong)l.VerdefSize, (uint)dynsymIndex + 1, 2, 4, 0));
            sections.Add(new(".gnu.version_r", 0x6ffffffe, A, (ulong)l.VerneedOffset, l.VerneedOffset, (ulong)l.VerneedSize, (uint)dynsymIndex + 1, 1, 4, 0));
        }
        sections.Add(new(".rela.dyn", 4, A, (ulong)l.RelaOffset, l.RelaOffset, (ulong)l.RelaSize, (uint)dynsymIndex, 0, 8, (ulong)relaentsize));
        sections.Add(new(".rela.plt", 4, A | 0x40, (ulong)l.JmprelOffset, l.JmprelOffset, (ulong)l.JmprelSize, (uint)dynsymIndex, 0, 8, (ulong)relaentsize));
        if (Relr) sections.Add(new(".relr.dyn", 19, A, (ulong)l.RelrOffset, l.RelrOffset, (ulong)l.RelrSize, 0, 0, 8, (ulong)w));
        sections.Add(new(".dynamic", (uint)SectionType.Dynamic, WA, l.Load1AddressOf(l.DynamicOffset), l.DynamicOffset, (ulong)(l.DynamicCount * dynentsize), (uint)dynsymIndex + 1, 0, 8, (ulong)dynentsize));
        sections.Add(new(".data", 1, WA, l.DataAddress, l.DataOffset, (ulong)l.DataFileSize, 0, 0, 8, 0));
        sections.Add(new(".bss", 8, WA, l.DataAddress + (ulong)l.DataFileSize, l.DataOffset + l.DataFileSize, (ulong)(l.DataMemorySize - l.DataFileSize), 0, 0, 8, 0));
        sections.Add(new(".shstrtab", 3, 0, 0, shstrtabOffset, 0, 0, 0, 1, 0));
        return sections;
    }

    /// <summary>.shstrtab and the section headers; section 0 carries the real counts when the header cannot.</summary>
    private void WriteSectionHeaders(BuiltElf image, ElfLayout layout, List<Section> sections, StringTableBuilder shstr, byte[] shstrBytes, int shstrndx)
    {
        shstrBytes.CopyTo(image.Bytes, layout.ShstrtabOffset);
        sections[^1] = sections[^1] with { Size = (ulong)shstrBytes.Length };
        sections[0] = sections[0] with
        {
            Size = ShnumInSection0 ? (ulong)sections.Count : 0,
            Link = ShstrndxInSection0 ? (uint)shstrndx : 0,
            Info = PhnumInSection0 ? (uint)layout.PhdrCount : 0,
        };
        for (int i = 0; i < sections.Count; i++)
            WriteShdr(image, layout.ShdrOffset + i * layout.ShdrEntrySize, sections[i], i == 0 ? 0 : shstr[sections[i].Name]);
    }

    private void WriteShdr(BuiltElf image, int o, Section s, uint name)
    {
        image.WriteU32(o, name); image.WriteU32(o + 4, s.Type);
        if (Is64)
        {
            image.WriteU64(o + 8, s.Flags); image.WriteU64(o + 16, s.Address); image.WriteU64(o + 24, (ulong)s.Offset);
            image.WriteU64(o + 32, s.Size); image.WriteU32(o + 40, s.Link); image.WriteU32(o + 44, s.Info);
            image.WriteU64(o + 48, s.Align); image.WriteU64(o + 56, s.EntrySize);
        }
        else
        {
            image.WriteU32(o + 8, (uint)s.Flags); image.WriteU32(o + 12, (uint)s.Address); image.WriteU32(o + 16, (uint)s.Offset);
            image.WriteU32(o + 20, (uint)s.Size); image.WriteU32(o + 24, s.Link); image.WriteU32(o + 28, s.Info);
            image.WriteU32(o + 32, (uint)s.Align); image.WriteU32(o + 36, (uint)s.EntrySize);
        }
    }
}
