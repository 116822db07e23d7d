using Loader.Native;

namespace Loader.Mapping;

/// <summary>
/// Where <see cref="UnwindTableCheck"/> reads the table, by link-time address: the mapped image, or a copy of the
/// file's bytes from some address on (the mapper's pread, so that no page of the image is touched). A read the copy
/// does not hold is answered with an <see cref="ElfFormatException"/>, as a table the mapper cannot check before the
/// overlays: the registry then checks the mapped image after relocation, and says what, if anything, is wrong.
/// </summary>
internal readonly ref struct UnwindTableBytes
{
    private readonly ImageMemory? _memory;
    private readonly nint _bias;
    private readonly ReadOnlySpan<byte> _copy;
    private readonly ulong _copyAddress;

    /// <summary>The image as mapped at <paramref name="bias"/>.</summary>
    public UnwindTableBytes(ImageMemory memory, nint bias)
    {
        _memory = memory;
        _bias = bias;
    }

    /// <summary>The file's bytes that the image shows from link-time address <paramref name="address"/> on.</summary>
    public UnwindTableBytes(ReadOnlySpan<byte> copy, ulong address)
    {
        _copy = copy;
        _copyAddress = address;
    }

    /// <summary><paramref name="length"/> bytes at link-time address <paramref name="address"/>, which the caller
    /// found inside a readable PT_LOAD.</summary>
    public ReadOnlySpan<byte> Read(string path, ulong address, int length)
    {
        if (_memory is not null)
            return _memory.GetSpan((nint)((ulong)_bias + address), length);
        if (address < _copyAddress || ThrowHelper.OutOfRange(address - _copyAddress, (ulong)length, (ulong)_copy.Length))
            ThrowHelper.Format(path, ".eh_frame_hdr eh_frame_ptr", 0,
                $"the {length} bytes at 0x{address:x} lie outside the copy read from 0x{_copyAddress:x} (0x{_copy.Length:x} bytes)");
        return _copy.Slice((int)(address - _copyAddress), length);
    }
}
