namespace Loader.Linking;

/// <summary>What serves a Loader module's TLS block in every thread: a carrier glibc loaded (<see cref="TlsCarrier"/>)
/// or Loader's own server (<see cref="ServedTlsBlock"/>). Disposed when the module is unmapped, once.</summary>
internal abstract class TlsBlockOwner : IDisposable
{
    /// <summary>The block: module ID, size, alignment, model, static offset.</summary>
    public abstract TlsBlock Block { get; }

    public abstract void Dispose();
}
