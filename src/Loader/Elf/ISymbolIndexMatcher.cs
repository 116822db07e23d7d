namespace Loader.Elf;

/// <summary>
/// Decides whether the symbol at an index is the one a hash-table walk looks for. A struct (or ref struct) matcher
/// lets <see cref="GnuHashTable.Find{TMatcher}"/> and <see cref="SysvHashTable.Find{TMatcher}"/> run without a
/// delegate or a closure: the symbol lookup of a relocation loop allocates nothing.
/// </summary>
internal interface ISymbolIndexMatcher
{
    /// <summary>True when the symbol at <paramref name="index"/> is the one wanted; the walk stops there.</summary>
    bool Matches(int index);
}
