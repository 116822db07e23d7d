using Loader.Elf;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// A dynamic TLS block Loader serves itself (<see cref="TlsServer"/>): no carrier, no memfd, no <c>dlopen</c>. Each
/// thread's copy is made on its first access from the module's relocated <c>.tdata</c>, where the image maps it.
/// </summary>
internal sealed class ServedTlsBlock : TlsBlockOwner
{
    private bool _released;

    private ServedTlsBlock(TlsBlock block) => Block = block;

    public override TlsBlock Block { get; }

    /// <summary>The name of the carrier of the server's table slot (its memfd is <c>loader-tls:</c> and this).</summary>
    public const string TableSlotName = "tls-server";

    // The static block that holds each thread's table pointer for the server's fast path; kept for the process.
    private static TlsCarrier? s_tableSlot;

    /// <summary>Loader's <c>__tls_get_addr</c> (<see cref="TlsServer"/>), the server made with its static table slot if
    /// it is not yet; 0 when it cannot be made.</summary>
    public static nint ServerGetAddr => TlsServer.Make(static () =>
    {
        s_tableSlot = TlsCarrier.LoadForProcess(TableSlotName, 8);
        return s_tableSlot?.Block.StaticOffset ?? 0; // none: the server finds each thread's table through its key
    });

    /// <summary>A slot for <paramref name="tls"/>, whose image is at <paramref name="image"/>; null when the server
    /// cannot be made or has no slot free (the caller then asks glibc for a carrier).</summary>
    public static ServedTlsBlock? TryServe(nint image, ProgramHeader tls)
    {
        if (ServerGetAddr == 0)
            return null;
        ulong alignment = Math.Max(tls.Alignment, 1);
        ulong id = TlsServer.Serve(image, tls.FileSize, tls.MemorySize, alignment);
        return id == 0 ? null : new ServedTlsBlock(new TlsBlock(id, tls.MemorySize, tls.FileSize, alignment, TlsModel.Dynamic, null));
    }

    /// <summary>Gives the slot back: every thread's copy goes stale (filled again if the slot serves another module,
    /// freed when the thread exits).</summary>
    public override void Dispose()
    {
        if (_released)
            return;
        _released = true;
        TlsServer.Release(Block.ModuleId);
    }
}
