using System.Buffers;

namespace Loader.Native;

/// <summary>
/// A whole file mapped read-only from a descriptor the mapper already holds (bionic's <c>MappedFileFragment</c>
/// does the same for the headers), exposed as <see cref="Memory{T}"/> so <c>ElfFile.Parse</c> reads it in place.
/// The mapper records the mmap and the munmap as mapping steps; this type only performs them.
/// </summary>
internal sealed unsafe class FileView : MemoryManager<byte>
{
    private readonly int _length;
    private bool _unmapped;

    private FileView(nint address, int length)
    {
        Address = address;
        _length = length;
    }

    /// <summary>Where the view starts.</summary>
    public nint Address { get; }

    /// <summary>The file's length in bytes.</summary>
    public int Length => _length;

    /// <summary>mmap(NULL, length, PROT_READ, MAP_PRIVATE, fd, 0); null with errno on failure.</summary>
    public static FileView? Map(FileDescriptor fd, int length, out int errno)
    {
        nint address = Mmap.Map(0, (ulong)length, Prot.PROT_READ, MapFlags.MAP_PRIVATE, fd, 0, out errno);
        return address == Mmap.MAP_FAILED ? null : new FileView(address, length);
    }

    /// <summary>munmap the view; later reads throw <see cref="ObjectDisposedException"/>. Idempotent.</summary>
    public bool Unmap(out int errno)
    {
        errno = 0;
        if (_unmapped)
            return true;
        _unmapped = true;
        return Mmap.Unmap(Address, (ulong)_length, out errno);
    }

    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_unmapped, this);
        return new Span<byte>((void*)Address, _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(_unmapped, this);
        return new MemoryHandle((byte*)Address + elementIndex);
    }

    public override void Unpin() { }

    protected override void Dispose(bool disposing) => Unmap(out _);
}
