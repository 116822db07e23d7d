using System.Buffers.Binary;
using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// The bytes of a TLS carrier: the smallest complete shared object glibc's <c>dlopen</c> accepts that has a module's
/// <c>PT_TLS</c> (size, alignment and relocated initialization image), so that glibc allocates and initializes that
/// block in every thread, present and future, and frees it at thread exit (docs/architecture.md, "Thread-local
/// storage"). A pure function of the module's PT_TLS and image: printable and testable without loading anything.
/// </summary>
/// <remarks>
/// Layout (one read-write PT_LOAD from offset 0, so <c>p_vaddr == p_offset</c>): the ELF header, four program
/// headers (PT_LOAD, PT_DYNAMIC, PT_TLS, PT_GNU_STACK read-write: without it glibc would make every thread stack
/// executable), the dynamic section, an empty string table, the null symbol (glibc reads <c>symtab[0]</c> for a
/// relocation with symbol 0), and, for static TLS, one <c>R_X86_64_TPOFF64</c> (symbol 0, addend 0) into an 8-byte
/// slot: that relocation, not <c>DF_STATIC_TLS</c> (which glibc 2.36 ignores), makes glibc place the block in static
/// TLS, and it leaves the block's offset from the thread pointer in the slot. No DT_SONAME, no hash table: nobody
/// looks a symbol up in it. The TLS image lies at an address congruent to the module's <c>p_vaddr</c> modulo
/// <c>p_align</c>, so glibc's first-byte offset (<c>l_tls_firstbyte_offset</c>) is the module's. PT_DYNAMIC is
/// read-only (glibc 2.35 and later then leave the entries as they are, <c>l_ld_readonly</c>), so glibc writes nothing
/// into a dynamic block's carrier and only the slot into a static one's: its pages stay the memfd's, not copies.
/// </remarks>
internal static class TlsCarrierImage
{
    private const int ElfHeaderSize = 64;
    private const int ProgramHeaderCount = 4;
    private const int DynamicOffset = ElfHeaderSize + ProgramHeaderCount * ProgramHeader.Size64;   // 288
    private const int DynamicEntries = 8;                                                        // room for the static case
    private const int StringTableOffset = DynamicOffset + DynamicEntries * 16;                   // 416
    private const int SymbolTableOffset = StringTableOffset + 8;                                  // 424: "\0", padded
    private const int RelaOffset = SymbolTableOffset + 24;                                       // 448: one Elf64_Sym
    private const int SlotOffset = RelaOffset + 24;                                              // 472: one Elf64_Rela
    private const int HeaderEnd = SlotOffset + 8;                                                // 480
    private const uint R_X86_64_TPOFF64 = 18;
    private const ulong Page = 0x1000; // glibc's page on x86_64: its zero-fill ends there

    /// <summary>The slot glibc writes the static block's offset from the thread pointer into (a carrier-relative address).</summary>
    public const ulong StaticOffsetSlot = SlotOffset;

    /// <summary>The carrier for a module whose PT_TLS is <paramref name="tls"/> and whose relocated <c>.tdata</c> is
    /// <paramref name="initializationImage"/> (<c>p_filesz</c> bytes).</summary>
    /// <param name="tls">The module's PT_TLS.</param>
    /// <param name="initializationImage">The relocated <c>.tdata</c> bytes.</param>
    /// <param name="staticTls">True to ask glibc for a static block (initial-exec or TLSDESC code needs one).</param>
    public static byte[] Build(ProgramHeader tls, ReadOnlySpan<byte> initializationImage, bool staticTls)
    {
        ulong align = Math.Max(tls.Alignment, 1);
        // The first address at or after the headers that is congruent to the module's p_vaddr modulo p_align.
        ulong want = tls.VirtualAddress % align;
        ulong imageAt = HeaderEnd + ((want + align - HeaderEnd % align) % align);
        ulong fileSize = imageAt + (ulong)initializationImage.Length;
        if (fileSize > int.MaxValue)
            ThrowHelper.Refused("TLS carrier", $"PT_TLS p_align 0x{tls.Alignment:x} with p_filesz 0x{tls.FileSize:x} needs a carrier of 0x{fileSize:x} bytes");
        var bytes = new byte[fileSize];
        var s = bytes.AsSpan();

        WriteElfHeader(s);
        int ph = ElfHeaderSize;
        WriteProgramHeader(s[ph..], SegmentType.Load, SegmentFlags.Read | SegmentFlags.Write, 0, fileSize,
            LoadMemorySize(fileSize, staticTls), Page);
        // Read-only: glibc then reads the entries and adds the load bias itself instead of writing it into them.
        WriteProgramHeader(s[(ph += ProgramHeader.Size64)..], SegmentType.Dynamic, SegmentFlags.Read,
            DynamicOffset, DynamicEntries * 16, DynamicEntries * 16, 8);
        WriteProgramHeader(s[(ph += ProgramHeader.Size64)..], SegmentType.Tls, SegmentFlags.Read,
            imageAt, (ulong)initializationImage.Length, tls.MemorySize, align);
        WriteProgramHeader(s[(ph += ProgramHeader.Size64)..], SegmentType.GnuStack, SegmentFlags.Read | SegmentFlags.Write, 0, 0, 0, 16);

        int d = DynamicOffset;
        d = Dyn(s, d, DynamicTag.StrTab, StringTableOffset);
        d = Dyn(s, d, DynamicTag.StrSz, 1);
        d = Dyn(s, d, DynamicTag.SymTab, SymbolTableOffset);
        d = Dyn(s, d, DynamicTag.SymEnt, 24);
        if (staticTls)
        {
            d = Dyn(s, d, DynamicTag.Rela, RelaOffset);
            d = Dyn(s, d, DynamicTag.RelaSz, 24);
            d = Dyn(s, d, DynamicTag.RelaEnt, 24);
            BinaryPrimitives.WriteUInt64LittleEndian(s[RelaOffset..], SlotOffset);            // r_offset
            BinaryPrimitives.WriteUInt64LittleEndian(s[(RelaOffset + 8)..], R_X86_64_TPOFF64); // r_info: symbol 0
        }
        Dyn(s, d, DynamicTag.Null, 0); // the rest of the section is zeros: DT_NULL too

        initializationImage.CopyTo(s[(int)imageAt..]);
        return bytes;
    }

    /// <summary>
    /// The PT_LOAD's p_memsz. A static block's carrier is written once, by glibc's TPOFF64 into the slot; ending the
    /// segment at the end of its last file page instead of the file's makes glibc zero that page's tail right after
    /// mapping it, before it reads anything, so the one copy-on-write fault comes first and alone (for a one-page
    /// carrier, the slot's page) instead of a read fault and then a write fault on a mapped page, whose copy flushes
    /// every CPU's TLB. A dynamic block's carrier is never written: the file's size.
    /// </summary>
    private static ulong LoadMemorySize(ulong fileSize, bool staticTls) =>
        staticTls ? (fileSize + Page - 1) / Page * Page : fileSize;

    private static int Dyn(Span<byte> s, int at, DynamicTag tag, ulong value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(s[at..], (long)tag);
        BinaryPrimitives.WriteUInt64LittleEndian(s[(at + 8)..], value);
        return at + 16;
    }

    private static void WriteElfHeader(Span<byte> s)
    {
        ElfHeader.Magic.CopyTo(s);
        s[ElfHeader.EI_CLASS] = (byte)ElfClass.Elf64;
        s[ElfHeader.EI_DATA] = (byte)ElfData.LittleEndian;
        s[ElfHeader.EI_VERSION] = (byte)ElfHeader.EV_CURRENT;
        static int At(ElfHeader.Field field) => ElfHeader.OffsetOf(field, ElfClass.Elf64);
        BinaryPrimitives.WriteUInt16LittleEndian(s[At(ElfHeader.Field.Type)..], (ushort)ElfType.SharedObject);
        BinaryPrimitives.WriteUInt16LittleEndian(s[At(ElfHeader.Field.Machine)..], (ushort)ElfMachine.X86_64);
        BinaryPrimitives.WriteUInt32LittleEndian(s[At(ElfHeader.Field.Version)..], ElfHeader.EV_CURRENT);
        BinaryPrimitives.WriteUInt64LittleEndian(s[At(ElfHeader.Field.ProgramHeaderOffset)..], ElfHeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(s[At(ElfHeader.Field.HeaderSize)..], ElfHeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(s[At(ElfHeader.Field.ProgramHeaderEntrySize)..], ProgramHeader.Size64);
        BinaryPrimitives.WriteUInt16LittleEndian(s[At(ElfHeader.Field.ProgramHeaderCount)..], ProgramHeaderCount);
        BinaryPrimitives.WriteUInt16LittleEndian(s[At(ElfHeader.Field.SectionHeaderEntrySize)..], 64); // no sections
    }

    private static void WriteProgramHeader(Span<byte> s, SegmentType type, SegmentFlags flags, ulong offset, ulong fileSize, ulong memorySize, ulong align)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)type);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], (uint)flags);
        BinaryPrimitives.WriteUInt64LittleEndian(s[8..], offset);
        BinaryPrimitives.WriteUInt64LittleEndian(s[16..], offset);   // p_vaddr = p_offset
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], offset);   // p_paddr
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], fileSize);
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], memorySize);
        BinaryPrimitives.WriteUInt64LittleEndian(s[48..], align);
    }
}
