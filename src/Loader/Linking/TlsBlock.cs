namespace Loader.Linking;

/// <summary>How code reaches a module's thread-local block.</summary>
public enum TlsModel
{
    /// <summary>Through <c>__tls_get_addr(module ID, offset)</c>: allocated in each thread on first use (by Loader or,
    /// through a carrier, by glibc).</summary>
    Dynamic,

    /// <summary>At a fixed offset from the thread pointer (<c>%fs</c>), the same in every thread: glibc's static TLS
    /// area, needed by initial-exec code (<c>R_X86_64_TPOFF64</c>) and used for TLSDESC.</summary>
    Static,
}

/// <summary>A module's thread-local storage block (its <c>PT_TLS</c>), as every thread has it.</summary>
/// <param name="ModuleId">The TLS module ID (<c>R_X86_64_DTPMOD64</c>'s value): for a dynamic block Loader serves
/// (<see cref="LoadOptions.ServeDynamicTls"/>), Loader's own (<c>0x4c4f4144</c> in the upper half, which its
/// <c>__tls_get_addr</c> knows); for a block a carrier holds, glibc's, shared with its own modules.</param>
/// <param name="Size">The block's size (<c>p_memsz</c>: <c>.tdata</c> then <c>.tbss</c>).</param>
/// <param name="ImageSize">The initialization image's size (<c>p_filesz</c>: <c>.tdata</c>); the rest starts zeroed.</param>
/// <param name="Alignment">The block's alignment (<c>p_align</c>).</param>
/// <param name="Model">Dynamic or static.</param>
/// <param name="StaticOffset">For static TLS, the block's offset from the thread pointer (negative on x86_64).</param>
public sealed record TlsBlock(ulong ModuleId, ulong Size, ulong ImageSize, ulong Alignment, TlsModel Model, long? StaticOffset);
