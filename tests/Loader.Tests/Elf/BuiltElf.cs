using System.Buffers.Binary;
using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary>
/// A built image: its bytes, where everything lies, what was put in, and writers in the image's own
/// byte order and class for corrupting one field at a time.
/// </summary>
public sealed class BuiltElf(byte[] bytes, ElfLayout layout, bool is64, bool bigEndian,
    IReadOnlyList<TestSymbol> symbols, IReadOnlyList<TestRelocation> rela, IReadOnlyList<TestRelocation> jmprel,
    IReadOnlyList<ulong> relrAddresses, string soName, IReadOnlyList<string> needed, string? runPath)
{
    public byte[] Bytes { get; } = bytes;
    public ElfLayout Layout { get; } = layout;
    public bool Is64 { get; } = is64;
    public bool BigEndian { get; } = bigEndian;
    public int WordSize => Is64 ? 8 : 4;
    /// <summary>Index 0 is the null symbol.</summary>
    public IReadOnlyList<TestSymbol> Symbols { get; } = symbols;
    public IReadOnlyList<TestRelocation> Rela { get; } = rela;
    public IReadOnlyList<TestRelocation> JmpRel { get; } = jmprel;
    public IReadOnlyList<ulong> RelrAddresses { get; } = relrAddresses;
    public string SoName { get; } = soName;
    public IReadOnlyList<string> Needed { get; } = needed;
    public string? RunPath { get; } = runPath;

    /// <summary>The file offset of e_phoff, e_shoff, e_phnum... in this class.</summary>
    public int HeaderField(string name)
    {
        int w = WordSize, after = 24 + 3 * w;
        return name switch
        {
            "e_type" => 16, "e_machine" => 18, "e_version" => 20, "e_entry" => 24, "e_phoff" => 24 + w, "e_shoff" => 24 + 2 * w,
            "e_flags" => after, "e_ehsize" => after + 4, "e_phentsize" => after + 6, "e_phnum" => after + 8,
            "e_shentsize" => after + 10, "e_shnum" => after + 12, "e_shstrndx" => after + 14,
            _ => throw new ArgumentException(name, nameof(name)),
        };
    }

    public ElfFile Parse(string name = ElfImageBuilder.DefaultName) => ElfFile.Parse(Bytes, name);

    public ushort ReadU16(int o) => BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(Bytes.AsSpan(o)) : BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(o));
    public uint ReadU32(int o) => BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(Bytes.AsSpan(o)) : BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(o));
    public ulong ReadU64(int o) => BigEndian ? BinaryPrimitives.ReadUInt64BigEndian(Bytes.AsSpan(o)) : BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(o));
    public ulong ReadWord(int o) => Is64 ? ReadU64(o) : ReadU32(o);

    public void WriteU16(int o, ushort v)
    {
        if (BigEndian) BinaryPrimitives.WriteUInt16BigEndian(Bytes.AsSpan(o), v);
        else BinaryPrimitives.WriteUInt16LittleEndian(Bytes.AsSpan(o), v);
    }

    public void WriteU32(int o, uint v)
    {
        if (BigEndian) BinaryPrimitives.WriteUInt32BigEndian(Bytes.AsSpan(o), v);
        else BinaryPrimitives.WriteUInt32LittleEndian(Bytes.AsSpan(o), v);
    }

    public void WriteU64(int o, ulong v)
    {
        if (BigEndian) BinaryPrimitives.WriteUInt64BigEndian(Bytes.AsSpan(o), v);
        else BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan(o), v);
    }

    /// <summary>Writes an address-sized field (truncated to 32 bits for ELF32).</summary>
    public void WriteWord(int o, ulong v)
    {
        if (Is64) WriteU64(o, v);
        else WriteU32(o, (uint)v);
    }

    /// <summary>The file offset of the (last) dynamic entry with <paramref name="tag"/>, or -1.</summary>
    public int DynamicEntryOffset(DynamicTag tag)
    {
        int found = -1;
        for (int i = 0; i < Layout.DynamicCount; i++)
        {
            int o = Layout.DynamicOffset + i * Layout.DynamicEntrySize;
            long t = Is64 ? (long)ReadU64(o) : (int)ReadU32(o);
            if (t == (long)tag)
                found = o;
            if (t == 0)
                break;
        }
        return found;
    }

    /// <summary>Sets the value of the dynamic entry with <paramref name="tag"/>, which must exist.</summary>
    public void SetDynamic(DynamicTag tag, ulong value)
    {
        int o = DynamicEntryOffset(tag);
        if (o < 0)
            throw new ArgumentException($"no {tag} entry", nameof(tag));
        WriteWord(o + WordSize, value);
    }

    /// <summary>Turns the entry with <paramref name="tag"/> into a DT_DEBUG the reader ignores.</summary>
    public void RemoveDynamic(DynamicTag tag)
    {
        int o = DynamicEntryOffset(tag);
        if (o < 0)
            throw new ArgumentException($"no {tag} entry", nameof(tag));
        WriteWord(o, (ulong)DynamicTag.Debug);
        WriteWord(o + WordSize, 0);
    }

    /// <summary>Appends an entry before the terminating DT_NULL (the builder leaves room).</summary>
    public void AddDynamic(DynamicTag tag, ulong value)
    {
        int o = DynamicEntryOffset(DynamicTag.Null);
        if (o < 0 || o + 2 * Layout.DynamicEntrySize > Layout.DynamicOffset + Layout.DynamicCount * Layout.DynamicEntrySize)
            throw new InvalidOperationException("no room in the dynamic section");
        WriteWord(o, (ulong)(long)tag);
        WriteWord(o + WordSize, value);
    }

    /// <summary>The symbol index of <paramref name="name"/> as laid out.</summary>
    public int SymbolIndex(string name) => Symbols.ToList().FindIndex(s => s.Name == name);

    /// <summary>A copy cut to <paramref name="length"/> bytes.</summary>
    public byte[] Truncated(int length) => Bytes.AsSpan(0, length).ToArray();
}
