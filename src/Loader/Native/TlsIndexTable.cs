namespace Loader.Native;

/// <summary>
/// The <c>tls_index</c> structures (<c>{ module ID, offset }</c>, the argument of <c>__tls_get_addr</c>) that a module's
/// dynamic TLSDESC descriptors point at: native memory, because the resolver reads it from native code on any thread.
/// Owned by the module; freed when it is unmapped, with the descriptors that point here.
/// </summary>
internal sealed unsafe class TlsIndexTable : IDisposable
{
    private readonly ulong* _entries;
    private readonly int _capacity;
    private int _count;

    public TlsIndexTable(int capacity)
    {
        _capacity = Math.Max(capacity, 1);
        _entries = (ulong*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)_capacity, 16);
    }

    /// <summary>A new <c>tls_index</c>; its address.</summary>
    public nint Add(ulong moduleId, ulong offset)
    {
        if (_count == _capacity)
            throw new InvalidOperationException($"TlsIndexTable holds {_capacity} entries");
        ulong* entry = _entries + 2 * _count++;
        entry[0] = moduleId;
        entry[1] = offset;
        return (nint)entry;
    }

    public void Dispose() => System.Runtime.InteropServices.NativeMemory.Free(_entries);
}
