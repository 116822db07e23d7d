using System.Buffers.Binary;
using Loader.Elf;
using Loader.Tests.Oracles;

namespace Loader.Tests.Elf;

/// <summary><c>StringTable.TryHashedBytesAt</c>: a name and its GNU hash in one pass, always what the search for the
/// terminator and the hash of the bytes found give, whatever the bytes around a NUL are, and refused where the search
/// refuses (an offset past the table, no terminator before its end).</summary>
public sealed class HashedNameTests
{
    // Bytes that exercise the four-at-a-time zero test: NUL, its neighbours 0x01 and 0xff (a borrow past a NUL), 0x80
    // and 0x7f (the high bit), and ordinary letters.
    private static readonly byte[] Alphabet = [0, 0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff, (byte)'a', (byte)'_', (byte)'Z', (byte)'9'];

    [Fact]
    public void Agrees_with_the_terminator_search_and_the_hash_on_random_tables()
    {
        var random = new Random(20261203);
        for (int round = 0; round < 20_000; round++)
        {
            var table = new byte[random.Next(0, 41)];
            for (int i = 0; i < table.Length; i++)
                table[i] = Alphabet[random.Next(Alphabet.Length)];
            uint offset = (uint)random.Next(0, table.Length + 3);

            bool expected = StringTable.TryBytesAt(table, offset, out var expectedBytes);
            bool got = StringTable.TryHashedBytesAt(table, offset, out var bytes, out uint hash);

            Assert.Equal(expected, got);
            if (!expected)
                continue;
            Assert.True(bytes.SequenceEqual(expectedBytes), $"round {round}: bytes differ at offset {offset}");
            Assert.Equal(GnuHashTable.Hash(expectedBytes), hash);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(8)]
    public void Finds_a_terminator_at_every_place_in_a_four_byte_word(int length)
    {
        var table = new byte[length + 9];
        Array.Fill(table, (byte)'x');
        table[length] = 0;
        Assert.True(StringTable.TryHashedBytesAt(table, 0, out var bytes, out uint hash));
        Assert.Equal(length, bytes.Length);
        Assert.Equal(GnuHashTable.Hash(bytes), hash);
    }

    /// <summary>Every exported name of a real library hashes to what the linker wrote in its DT_GNU_HASH chains (the
    /// chain value is the hash with its low bit used as the chain's end mark).</summary>
    [Fact]
    public void Hashes_every_exported_name_of_libcrypto_as_the_linker_did()
    {
        string path = SystemLibraries.Require("libcrypto.so.3");
        var file = ElfFile.Open(path);
        var tables = file.Tables ?? throw new InvalidOperationException("no dynamic tables");
        var gnu = tables.GnuHash ?? throw new InvalidOperationException("no DT_GNU_HASH");
        var symbols = tables.Symbols!;
        var strings = tables.StringBytes;
        int checkedNames = 0;
        for (int i = (int)gnu.SymbolOffset; i < symbols.Count; i++)
        {
            Assert.True(StringTable.TryHashedBytesAt(strings, symbols[i].NameOffset, out _, out uint hash));
            uint chainValue = BinaryPrimitives.ReadUInt32LittleEndian(gnu.Chains[((i - (int)gnu.SymbolOffset) * 4)..]);
            Assert.Equal(chainValue | 1, hash | 1);
            checkedNames++;
        }
        Assert.True(checkedNames > 1000, $"only {checkedNames} hashed symbols");
    }
}
