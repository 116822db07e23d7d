namespace Loader.Native;

/// <summary>
/// A page of machine code Loader writes itself (the TLSDESC resolvers, the thread-exit trampoline): mapped read-write,
/// written, then made read-execute — never writable and executable at once — and never unmapped, because code that
/// outlives any one library (a descriptor, a pending destructor) may jump to it until the process ends.
/// </summary>
internal static unsafe class ExecutablePage
{
    /// <summary>The address of <paramref name="code"/>, copied into a fresh read-execute page.</summary>
    /// <exception cref="ImageLoadException">The page could not be mapped or protected.</exception>
    public static nint Create(ReadOnlySpan<byte> code, string what)
    {
        ulong page = (ulong)Environment.SystemPageSize;
        nint address = Mmap.Map(0, page, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS, -1, 0, out int errno);
        if (address == Mmap.MAP_FAILED)
            ThrowHelper.ImageLoad(what, "mmap", errno, $"mmap of a page for {what} failed: {Errno.Describe(errno)}");
        code.CopyTo(new Span<byte>((void*)address, code.Length));
        if (!Mmap.Protect(address, page, Prot.PROT_READ | Prot.PROT_EXEC, out errno))
        {
            Mmap.Unmap(address, page, out _);
            ThrowHelper.ImageLoad(what, "mprotect", errno, $"mprotect of {what}'s page to r-x failed: {Errno.Describe(errno)}");
        }
        return address;
    }

    /// <summary>The address a host function is called at from code Loader writes: the global scope's definition
    /// (<c>dlsym(RTLD_DEFAULT)</c>, where ld.so's own symbols are found too).</summary>
    /// <exception cref="LoaderException">The process has no such function.</exception>
    public static nint HostFunction(string name, string what)
    {
        nint address = DynamicLinker.Symbol(0, name, out string? error);
        if (address == 0)
            ThrowHelper.Refused(what, $"{what} calls {name}, which the process does not define: {error}");
        return address;
    }
}
