using System.Buffers;

namespace Loader.Native;

/// <summary>
/// A range of this process's own memory that something else owns (a library the system loader mapped), exposed as
/// <see cref="Memory{T}"/> so the ELF readers see it as any other bytes (DESIGN.md, "One reader, three views").
/// Nothing is copied and nothing is freed: the owner's lifetime bounds the view's, which is why the host modules
/// we read are kept loaded (see <c>HostModules.Get</c>). The constructor is the only place an address becomes a
/// pointer; every later access is a bounds-checked span.
/// </summary>
internal unsafe class BorrowedMemory : MemoryManager<byte>
{
    private readonly int _length;

    /// <summary>Describes <c>[address, address + length)</c>; the caller vouches that it is mapped and readable.</summary>
    public BorrowedMemory(nint address, ulong length)
    {
        // A Memory<byte> is int-indexed: a single range over 2 GiB cannot be described, so it is refused here rather
        // than silently truncated.
        if (length > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(length), $"0x{length:x} bytes at 0x{address:x} exceed the 2 GiB a Memory<byte> can span");
        if (address == 0 && length != 0)
            throw new ArgumentOutOfRangeException(nameof(address), "a range of host memory cannot start at address 0");
        Address = address;
        _length = (int)length;
    }

    /// <summary>The first byte.</summary>
    public nint Address { get; }

    /// <summary>The length in bytes of the range a <see cref="Memory{T}"/> of it spans.</summary>
    public int MemoryLength => _length;

    /// <summary>The range as read-only memory, for a <see cref="Loader.Elf.VirtualView"/> region.</summary>
    public static ReadOnlyMemory<byte> Describe(nint address, ulong length) =>
        length == 0 ? ReadOnlyMemory<byte>.Empty : new BorrowedMemory(address, length).Memory;

    public override Span<byte> GetSpan() => new((void*)Address, _length);

    // The memory is not managed, so it never moves: pinning is only handing out the pointer.
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        if ((uint)elementIndex > (uint)_length)
            throw new ArgumentOutOfRangeException(nameof(elementIndex));
        return new MemoryHandle((byte*)Address + elementIndex);
    }

    public override void Unpin() { }

    // Not ours to free: the system loader unmaps the library when its last handle is closed.
    protected override void Dispose(bool disposing) { }
}
