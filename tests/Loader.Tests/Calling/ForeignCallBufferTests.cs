using System.Runtime.InteropServices;
using Loader.Calling;

namespace Loader.Tests.Calling;

/// <summary>
/// <see cref="ForeignValue.FromBuffer"/>: the function gets a native copy of the array and what it writes comes back
/// into the array; text goes to any char pointer (<see cref="CType.IsCharPointer"/>). glibc's own memset, memcpy and
/// strlen, looked up with <see cref="NativeLibrary"/>, are the functions called.
/// </summary>
public sealed class ForeignCallBufferTests
{
    private static nint LibcExport(string name) => NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), name);

    private static CPrototype Parse(string text) =>
        CPrototype.TryParse(text, out var prototype, out string? error) ? prototype! : throw new ArgumentException(error);

    [Fact]
    public void What_the_function_writes_into_a_buffer_comes_back_into_the_array()
    {
        var buffer = new byte[6];

        ForeignCall.Invoke(LibcExport("memset"), Parse("void *memset(void *s, int c, size_t n)"),
            [ForeignValue.FromBuffer(buffer), ForeignValue.FromInteger('A'), ForeignValue.FromInteger(4)]);

        Assert.Equal("AAAA\0\0"u8.ToArray(), buffer);
    }

    [Fact]
    public void A_buffers_bytes_go_in_as_well_as_out()
    {
        var source = "loader"u8.ToArray();
        var target = new byte[6];

        ForeignCall.Invoke(LibcExport("memcpy"), Parse("void *memcpy(void *d, const void *s, size_t n)"),
            [ForeignValue.FromBuffer(target), ForeignValue.FromBuffer(source), ForeignValue.FromInteger(6)]);

        Assert.Equal(source, target);
    }

    [Theory]
    [InlineData("size_t strlen(const unsigned char *s)")]
    [InlineData("size_t strlen(unsigned char *s)")]
    [InlineData("size_t strlen(const uint8_t *s)")]
    [InlineData("size_t strlen(char *s)")]
    public void Text_goes_to_any_char_pointer(string prototype)
    {
        var parsed = Parse(prototype);

        var length = ForeignCall.Invoke(LibcExport("strlen"), parsed, [ForeignValue.FromString("héllo")]);

        Assert.True(parsed.Parameters[0].Type.IsCharPointer);
        Assert.Equal(6, length.Integer); // UTF-8: é is two bytes
    }

    [Fact]
    public void Text_is_refused_for_a_pointer_to_anything_else()
    {
        var parsed = Parse("size_t strlen(const int *s)");

        Assert.False(parsed.Parameters[0].Type.IsCharPointer);
        Assert.Throws<ArgumentException>(() => ForeignCall.Invoke(LibcExport("strlen"), parsed, [ForeignValue.FromString("x")]));
    }
}
