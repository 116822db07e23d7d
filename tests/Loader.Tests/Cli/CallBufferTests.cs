using System.Text.Json;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>
/// <c>loader call</c> with text for <c>const unsigned char *</c> and a <c>buf:N</c> output buffer: libcrypto's
/// <c>SHA256(d, n, md)</c> writes the digest into the buffer, and the hex printed must equal <c>sha256sum</c>'s.
/// </summary>
[Collection("AddressSpace")]
public sealed class CallBufferTests
{
    private const string LibCrypto = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3";
    private const string Sha256 = "unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md)";

    private static string Sha256Sum(string data) =>
        ChildProcess.Run("sha256sum", [], standardInput: data).Stdout.Split(' ')[0];

    [Theory]
    [InlineData("abc")]
    [InlineData("The quick brown fox jumps over the lazy dog")]
    public void SHA256_into_a_buffer_prints_the_digest_sha256sum_prints(string data)
    {
        Assert.True(File.Exists(LibCrypto), $"{LibCrypto} is missing (libssl3)");

        var result = CliHarness.Run("call", LibCrypto, Sha256, data, data.Length.ToString(), "buf:32");

        CliHarness.AssertSuccess(result);
        var lines = result.Stdout.Split('\n');
        Assert.Matches("^0x[0-9a-f]+$", lines[0]); // SHA256 returns md, the buffer's address
        Assert.Equal("argument 3 (unsigned char *md), 32 bytes after the call:", lines[1]);
        Assert.Equal($"  hex   {Sha256Sum(data)}", lines[2]);
        Assert.StartsWith("  text  \"", lines[3]);
    }

    [Fact]
    public void Json_lists_each_buffer_with_its_hex_and_text()
    {
        var result = CliHarness.Run("call", CliHarness.LibC, "int snprintf(char *s, size_t n, const char *format, ...)",
            "buf:16", "16", "x=%d %s", "42", "hi", "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(7, json.RootElement.GetProperty("result").GetInt32());
        var buffer = Assert.Single(json.RootElement.GetProperty("buffers").EnumerateArray());
        Assert.Equal(1, buffer.GetProperty("argument").GetInt32());
        Assert.Equal("char *s", buffer.GetProperty("parameter").GetString());
        Assert.Equal(16, buffer.GetProperty("size").GetInt32());
        Assert.Equal("x=42 hi", buffer.GetProperty("text").GetString());
        Assert.Equal(Convert.ToHexStringLower("x=42 hi"u8) + new string('0', 18), buffer.GetProperty("hex").GetString());
    }

    [Fact]
    public void Const_unsigned_char_pointer_takes_text_as_const_char_pointer_does()
    {
        // strlen reads the text whichever char pointer the prototype names.
        var plain = CliHarness.Run("call", CliHarness.LibC, "size_t strlen(const char *s)", "hello");
        var unsignedText = CliHarness.Run("call", CliHarness.LibC, "size_t strlen(const unsigned char *s)", "hello");

        CliHarness.AssertSuccess(plain);
        CliHarness.AssertSuccess(unsignedText);
        Assert.Equal("5\n", plain.Stdout);
        Assert.Equal(plain.Stdout, unsignedText.Stdout);
    }

    [Fact]
    public void Call_without_its_arguments_says_once_what_is_missing()
    {
        var neither = CliHarness.Run("call");
        var noPrototype = CliHarness.Run("call", CliHarness.LibZ);

        Assert.Equal(2, neither.ExitCode);
        Assert.Equal("call: missing FILE and PROTOTYPE: the shared object that exports the function, and its C prototype, quoted\n" +
            "Run 'loader call --help' for usage.\n", neither.Stderr);
        Assert.Equal(2, noPrototype.ExitCode);
        Assert.Equal("call: missing PROTOTYPE: the function's C prototype, quoted: 'int add(int, int)'\n" +
            "Run 'loader call --help' for usage.\n", noPrototype.Stderr);
    }
}
