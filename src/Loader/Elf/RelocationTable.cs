namespace Loader.Elf;

/// <summary>The format of a relocation table.</summary>
public enum RelocationFormat
{
    /// <summary>Elf_Rel: offset and info; the addend is stored at the target.</summary>
    Rel,
    /// <summary>Elf_Rela: offset, info and an explicit addend.</summary>
    Rela,
}

/// <summary>A REL or RELA table (DT_RELA, DT_REL or DT_JMPREL), read in place, one entry decoded at a time.</summary>
public sealed class RelocationTable
{
    private readonly RelocationTableData _data;

    internal RelocationTable(in RelocationTableData data) => _data = data;

    /// <summary>The dynamic tag that located it: DT_RELA, DT_REL or DT_JMPREL.</summary>
    public string Name => _data.Name;
    /// <summary>REL or RELA.</summary>
    public RelocationFormat Format => _data.Format;
    /// <summary>The table's virtual address.</summary>
    public ulong Address => _data.Address;
    /// <summary>The entry size (DT_RELAENT / DT_RELENT).</summary>
    public int EntrySize => _data.EntrySize;
    /// <summary>The number of entries.</summary>
    public int Count => _data.Count;

    /// <summary>The standard entry size for a format and class.</summary>
    public static int StandardEntrySize(RelocationFormat format, ElfClass elfClass) =>
        (format == RelocationFormat.Rela ? 3 : 2) * (elfClass == ElfClass.Elf64 ? 8 : 4);

    /// <summary>The relocation at <paramref name="index"/>.</summary>
    public Relocation this[int index] => _data[index];

    /// <summary>Enumerates the entries without allocating.</summary>
    public Enumerator GetEnumerator() => new(this);

    /// <summary>A struct enumerator over the entries.</summary>
    public struct Enumerator
    {
        private readonly RelocationTable _table;
        private int _index;

        internal Enumerator(RelocationTable table)
        {
            _table = table;
            _index = -1;
        }

        /// <summary>The current entry.</summary>
        public readonly Relocation Current => _table[_index];

        /// <summary>Advances.</summary>
        public bool MoveNext() => ++_index < _table.Count;
    }
}
