namespace Loader.Elf;

/// <summary>One note (<c>Elf_Nhdr</c> with its name and descriptor).</summary>
/// <param name="Owner">The name, without its terminator (<c>GNU</c>).</param>
/// <param name="Type">n_type (NT_GNU_BUILD_ID = 3).</param>
/// <param name="Descriptor">The descriptor bytes.</param>
public sealed record ElfNote(string Owner, uint Type, ReadOnlyMemory<byte> Descriptor)
{
    /// <summary>NT_GNU_BUILD_ID.</summary>
    public const uint NT_GNU_BUILD_ID = 3;

    /// <summary>Reads the notes of one PT_NOTE segment or SHT_NOTE section.</summary>
    internal static void ReadAll(ReadOnlyMemory<byte> bytes, ulong alignment, ElfEncoding enc, ulong fileOffset, string fileName, List<ElfNote> into)
    {
        // Notes are 4-byte aligned, except in segments aligned to 8 (the GNU property note), where
        // name and descriptor are padded to 8.
        int align = alignment == 8 ? 8 : 4;
        var s = bytes.Span;
        int offset = 0;
        while (offset + 12 <= s.Length)
        {
            uint nameSize = enc.U32(s, offset), descSize = enc.U32(s, offset + 4), type = enc.U32(s, offset + 8);
            ulong nameStart = (ulong)offset + 12;
            ulong descStart = AlignUp(nameStart + nameSize, align);
            ulong end = AlignUp(descStart + descSize, align);
            if (descStart + descSize > (ulong)s.Length)
                ThrowHelper.Format(fileName, "Elf_Nhdr", fileOffset + (ulong)offset,
                    $"note of namesz {nameSize} and descsz {descSize} runs past the end of its {s.Length}-byte segment");
            var name = s.Slice((int)nameStart, (int)nameSize);
            int nul = name.IndexOf((byte)0);
            string owner = System.Text.Encoding.UTF8.GetString(nul >= 0 ? name[..nul] : name);
            into.Add(new ElfNote(owner, type, bytes.Slice((int)descStart, (int)descSize)));
            offset = (int)Math.Min(end, (ulong)s.Length);
        }
    }

    private static ulong AlignUp(ulong value, int align) => (value + (ulong)align - 1) & ~((ulong)align - 1);
}
