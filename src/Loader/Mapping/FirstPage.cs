namespace Loader.Mapping;

/// <summary>
/// The first <see cref="ReadLength"/> bytes of a file (all of a shorter one), read with one pread at offset 0 into a
/// buffer from <see cref="SpareBuffers"/>: what the mapper's first read would read. A library search reads them
/// to verify a candidate (glibc's <c>open_verify</c>), and the mapper takes them over with the descriptor instead of
/// opening and reading the file again, as glibc maps from <c>open_verify</c>'s descriptor and buffer. Whoever holds it
/// last gives the buffer back.
/// </summary>
internal readonly record struct FirstPage(byte[] Buffer, int Length)
{
    /// <summary>A page: the ELF header and, in nearly every file, the program headers (glibc reads 832 bytes).</summary>
    public const int ReadLength = 4096;

    /// <summary>A buffer for the read, from the thread's spares.</summary>
    public static byte[] Rent() => SpareBuffers.Rent(ReadLength);

    /// <summary>Gives the buffer back to the thread's spares.</summary>
    public void Return() => SpareBuffers.Return(Buffer);
}
