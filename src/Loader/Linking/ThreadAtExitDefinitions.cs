using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// The host's <c>__cxa_thread_atexit_impl</c> and <c>__cxa_thread_atexit</c>, which a relocation must bind to
/// <see cref="Native.ThreadExitShim"/> instead. A host module's definitions of the two names are found once (every entry of
/// their hash chains that bears one of the names), so that a binding to any other host definition — nearly every one a
/// library makes — is told apart by its symbol index, without reading the definer's string table again.
/// </summary>
internal static class ThreadAtExitDefinitions
{
    private static readonly byte[][] Names = ["__cxa_thread_atexit"u8.ToArray(), "__cxa_thread_atexit_impl"u8.ToArray()];

    /// <summary>The symbol indices in <paramref name="tables"/> that define either name (an empty array when none does;
    /// a versioned library may define a name more than once).</summary>
    public static int[] In(DynamicTables tables)
    {
        if (tables.Symbols is not { } symbols)
            return [];
        var found = new List<int>(2);
        foreach (var name in Names)
        {
            bool Collect(int index)
            {
                if (!symbols[index].IsUndefined && symbols.NameEqualsBytes(symbols[index].NameOffset, name))
                    found.Add(index);
                return false; // the whole chain: a name may be defined under several versions
            }
            if (tables.GnuHash is { } gnu)
                gnu.Find(GnuHashTable.Hash(name), Collect);
            else
                tables.SysvHash?.Find(SysvHashTable.Hash(name), Collect);
        }
        return found.ToArray();
    }
}
