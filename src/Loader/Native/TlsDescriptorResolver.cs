namespace Loader.Native;

/// <summary>
/// The resolvers a TLSDESC descriptor points at. The x86_64 TLSDESC ABI calls <c>*desc</c> with <c>%rax = desc</c> and
/// expects the variable's offset from the thread pointer back in <c>%rax</c>, every other register untouched — vector
/// registers included, whole (glibc 2.36's own dynamic resolver loses the upper halves of the AVX registers: its bug
/// 31372). Static TLS: the offset is fixed, so the resolver only loads the descriptor's second word, as glibc's
/// <c>_dl_tlsdesc_return</c>. Dynamic TLS: the second word points at a <c>tls_index</c>; the resolver saves every
/// caller-saved register and the whole extended state (<c>xsave</c> with every component the OS enabled), calls
/// <c>__tls_get_addr</c> (Loader's <see cref="TlsServer"/>), restores everything and returns the address minus the thread pointer.
/// </summary>
internal static unsafe class TlsDescriptorResolver
{
    // mov rax, [rax + 8]   ; the descriptor's argument: the offset from %fs
    // ret
    private static ReadOnlySpan<byte> StaticReturn => [0x48, 0x8b, 0x40, 0x08, 0xc3];

    // push rbp; mov rbp, rsp; push rdi, rsi, rdx, rcx, r8, r9, r10, r11
    // mov rdi, [rax + 8]                 ; the tls_index
    // and rsp, -64; sub rsp, AREA        ; the xsave area, 64-byte aligned (AREA patched in)
    // xor eax, eax; mov [rsp + 512 + 8k], rax (k = 0..7)   ; the xsave header must start zeroed for xrstor
    // mov eax, -1; mov edx, -1; xsave [rsp]                ; every enabled state component
    // movabs rax, __tls_get_addr (patched in); call rax    ; the stack is 16-byte aligned here
    // mov rsi, rax; mov eax, -1; mov edx, -1; xrstor [rsp]; mov rax, rsi
    // sub rax, fs:[0]                    ; address - thread pointer
    // lea rsp, [rbp - 64]; pop r11, r10, r9, r8, rcx, rdx, rsi, rdi; pop rbp; ret
    private static ReadOnlySpan<byte> DynamicReturn =>
    [
        0x55, 0x48, 0x89, 0xe5, 0x57, 0x56, 0x52, 0x51, 0x41, 0x50, 0x41, 0x51, 0x41, 0x52, 0x41, 0x53,
        0x48, 0x8b, 0x78, 0x08,
        0x48, 0x83, 0xe4, 0xc0, 0x48, 0x81, 0xec, 0x00, 0x00, 0x00, 0x00,
        0x31, 0xc0,
        0x48, 0x89, 0x84, 0x24, 0x00, 0x02, 0x00, 0x00, 0x48, 0x89, 0x84, 0x24, 0x08, 0x02, 0x00, 0x00,
        0x48, 0x89, 0x84, 0x24, 0x10, 0x02, 0x00, 0x00, 0x48, 0x89, 0x84, 0x24, 0x18, 0x02, 0x00, 0x00,
        0x48, 0x89, 0x84, 0x24, 0x20, 0x02, 0x00, 0x00, 0x48, 0x89, 0x84, 0x24, 0x28, 0x02, 0x00, 0x00,
        0x48, 0x89, 0x84, 0x24, 0x30, 0x02, 0x00, 0x00, 0x48, 0x89, 0x84, 0x24, 0x38, 0x02, 0x00, 0x00,
        0xb8, 0xff, 0xff, 0xff, 0xff, 0xba, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xae, 0x24, 0x24,
        0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xd0,
        0x48, 0x89, 0xc6, 0xb8, 0xff, 0xff, 0xff, 0xff, 0xba, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xae, 0x2c, 0x24, 0x48, 0x89, 0xf0,
        0x64, 0x48, 0x2b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00,
        0x48, 0x8d, 0x65, 0xc0, 0x41, 0x5b, 0x41, 0x5a, 0x41, 0x59, 0x41, 0x58, 0x59, 0x5a, 0x5e, 0x5f, 0x5d, 0xc3,
    ];
    private const int AreaSizeAt = 0x1b;     // sub rsp, imm32
    private const int TlsGetAddrAt = 0x71;   // movabs rax, imm64

    private static readonly Lazy<nint> s_static = new(() => CreatePage(StaticReturn), LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lock s_dynamicLock = new();
    private static nint s_dynamic;

    /// <summary>The static resolver's address: one page for the process, written while read-write, then made
    /// read-execute (never both), and never unmapped, since descriptors may point at it until the process ends.</summary>
    /// <exception cref="ImageLoadException">The page could not be mapped or protected.</exception>
    public static nint Static => s_static.Value;

    /// <summary>The dynamic resolver's address (same page rules); its descriptors' second word is a <c>tls_index*</c>.
    /// Made on the first call, calling <paramref name="tlsGetAddr"/>'s answer then (Loader's TLS server, which passes
    /// glibc's IDs on), or glibc's <c>__tls_get_addr</c> when that is 0.</summary>
    /// <exception cref="LoaderException">The CPU or OS has no XSAVE, or glibc's <c>__tls_get_addr</c> cannot be found.</exception>
    public static nint Dynamic(Func<nint> tlsGetAddr)
    {
        lock (s_dynamicLock)
        {
            if (s_dynamic == 0)
                s_dynamic = CreateDynamic(tlsGetAddr());
            return s_dynamic;
        }
    }

    private static nint CreateDynamic(nint tlsGetAddr)
    {
        // CPUID.1:ECX.OSXSAVE[bit 27]: the OS enabled XSAVE; CPUID.(EAX=0DH,ECX=0):EBX: the area size for what XCR0 enables.
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported || (System.Runtime.Intrinsics.X86.X86Base.CpuId(1, 0).Ecx & (1 << 27)) == 0)
            ThrowHelper.Refused("TLSDESC resolver", "a dynamic TLSDESC resolver needs XSAVE, which this CPU or OS does not enable");
        int area = (System.Runtime.Intrinsics.X86.X86Base.CpuId(0xd, 0).Ebx + 63) & ~63;
        // glibc's when the server could not be made (ld.so defines it; dlsym on ld.so's own handle does not find it,
        // the global scope does).
        if (tlsGetAddr == 0)
            tlsGetAddr = ExecutablePage.HostFunction("__tls_get_addr", "the TLSDESC resolver");
        Span<byte> code = stackalloc byte[DynamicReturn.Length];
        DynamicReturn.CopyTo(code);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(code[AreaSizeAt..], area);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(code[TlsGetAddrAt..], tlsGetAddr);
        return CreatePage(code);
    }

    private static nint CreatePage(ReadOnlySpan<byte> code) => ExecutablePage.Create(code, "the TLSDESC resolver");
}
