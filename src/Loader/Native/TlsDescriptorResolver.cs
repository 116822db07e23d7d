namespace Loader.Native;

/// <summary>
/// The resolver a TLSDESC descriptor points at when the variable is in static TLS: the x86_64 TLSDESC ABI calls
/// <c>*desc</c> with <c>%rax = desc</c> and expects the variable's offset from the thread pointer back in <c>%rax</c>,
/// every other register untouched (vector registers included). For static TLS the offset is fixed, so the resolver
/// only loads the descriptor's second word — the same two instructions as glibc's <c>_dl_tlsdesc_return</c>.
/// </summary>
internal static unsafe class TlsDescriptorResolver
{
    // mov rax, [rax + 8]   ; the descriptor's argument: the offset from %fs
    // ret
    private static ReadOnlySpan<byte> StaticReturn => [0x48, 0x8b, 0x40, 0x08, 0xc3];

    private static readonly Lazy<nint> s_static = new(CreateStatic, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The static resolver's address: one page for the process, written while read-write, then made
    /// read-execute (never both), and never unmapped, since descriptors may point at it until the process ends.</summary>
    /// <exception cref="ImageLoadException">The page could not be mapped or protected.</exception>
    public static nint Static => s_static.Value;

    private static nint CreateStatic()
    {
        ulong page = (ulong)Environment.SystemPageSize;
        nint address = Mmap.Map(0, page, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS, -1, 0, out int errno);
        if (address == Mmap.MAP_FAILED)
            ThrowHelper.ImageLoad("TLSDESC resolver", "mmap", errno, $"mmap of a page for the TLSDESC resolver failed: {Errno.Describe(errno)}");
        StaticReturn.CopyTo(new Span<byte>((void*)address, StaticReturn.Length));
        if (!Mmap.Protect(address, page, Prot.PROT_READ | Prot.PROT_EXEC, out errno))
        {
            Mmap.Unmap(address, page, out _);
            ThrowHelper.ImageLoad("TLSDESC resolver", "mprotect", errno, $"mprotect of the TLSDESC resolver's page to r-x failed: {Errno.Describe(errno)}");
        }
        return address;
    }
}
