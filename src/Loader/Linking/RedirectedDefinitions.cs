using Loader.Elf;

namespace Loader.Linking;

/// <summary>What a relocation bound to a host definition gets instead of the definition's address.</summary>
internal enum HostRedirect : byte
{
    /// <summary>The definition itself.</summary>
    None,

    /// <summary><c>__cxa_thread_atexit_impl</c> or <c>__cxa_thread_atexit</c>: <see cref="Native.ThreadExitShim"/>.</summary>
    ThreadAtExit,

    /// <summary>ld.so's <c>__tls_get_addr</c>: <see cref="ServedTlsBlock.ServerGetAddr"/>, which serves Loader's dynamic
    /// TLS blocks and passes every other module ID to glibc's.</summary>
    TlsGetAddr,
}

/// <summary>
/// The host definitions a relocation must not bind to directly (<see cref="HostRedirect"/>). A host module's definitions
/// of the names are found once (every entry of their hash chains that bears one of them), so that a binding to any
/// other host definition — nearly every one a library makes — is told apart by its symbol index, without reading the
/// definer's string table again.
/// </summary>
internal static class RedirectedDefinitions
{
    private static readonly (byte[] Name, HostRedirect Redirect)[] Names =
    [
        ("__cxa_thread_atexit"u8.ToArray(), HostRedirect.ThreadAtExit),
        ("__cxa_thread_atexit_impl"u8.ToArray(), HostRedirect.ThreadAtExit),
        ("__tls_get_addr"u8.ToArray(), HostRedirect.TlsGetAddr),
    ];

    /// <summary>The symbol indices in <paramref name="tables"/> that define one of the names, each with what it is
    /// redirected to (an empty array when none does; a versioned library may define a name more than once).</summary>
    public static (int Index, HostRedirect Redirect)[] In(DynamicTables tables)
    {
        if (tables.Symbols is not { } symbols)
            return [];
        var found = new List<(int, HostRedirect)>(2);
        foreach (var (name, redirect) in Names)
        {
            bool Collect(int index)
            {
                if (!symbols[index].IsUndefined && symbols.NameEqualsBytes(symbols[index].NameOffset, name))
                    found.Add((index, redirect));
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
