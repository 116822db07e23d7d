namespace Loader.Elf;

/// <summary>One <c>Elf_Dyn</c> entry: a tag and its value (<c>d_val</c> or <c>d_ptr</c>).</summary>
public readonly record struct DynamicEntry(DynamicTag Tag, ulong Value)
{
    /// <summary>The raw tag number (for tags this reader does not name).</summary>
    public long RawTag => (long)Tag;
}
