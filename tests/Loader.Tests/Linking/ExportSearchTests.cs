using System.Text;
using Loader.Elf;
using Loader.Linking;

namespace Loader.Tests.Linking;

/// <summary>
/// GetExport's fast path (<see cref="ExportSearch"/>: an ASCII name hashed and compared as its chars, each module's
/// GNU hash table read as it lies) answers exactly what the general lookup (<see cref="SymbolLookup"/> over the
/// name's UTF-8 bytes) answers, for every name a library's symbol table holds and for names it does not.
/// </summary>
public sealed class ExportSearchTests
{
    public static TheoryData<string> Libraries => new()
    {
        "versioned.so", "hash_gnu.so", "hash_sysv.so", "hash_both.so", "ifunc.so", "basic.so", "relr.so",
        "/usr/lib/x86_64-linux-gnu/libz.so.1", "libc.so.6", "libstdc++.so.6",
    };

    [Theory]
    [MemberData(nameof(Libraries))]
    public void The_fast_path_answers_as_the_general_lookup_for_every_name(string library)
    {
        var context = new LoaderContext();
        bool system = library.StartsWith('/') || library.Contains(".so.", StringComparison.Ordinal);
        using var lib = context.Load(system ? library : Fixtures.Path(library));
        var space = context.Namespace;
        var module = lib.LoadedModule;
        var names = new List<string> { "loader_defined_nowhere", "q", "mallocx", "deflate_", "_" };
        foreach (var m in module.LocalSearchList)
        {
            var symbols = m.Tables?.Symbols;
            for (int i = 1; symbols is not null && i < symbols.Count; i++)
            {
                string name = symbols.GetName(i);
                if (name.Length > 0)
                    names.Add(name);
            }
        }
        int compared = 0, found = 0;
        foreach (string name in names)
        {
            uint hash = GnuHashTable.Hash(name, out bool ascii);
            if (!ascii)
                continue;
            bool general = HandleLookup.TryGetExport(space, module, new SymbolName(Encoding.UTF8.GetBytes(name)), null, out nint expected);
            bool fast = HandleLookup.TryGetExport(space, module, name, hash, out nint actual);
            if (general != fast || expected != actual)
                Assert.Fail($"{library}: '{name}': general lookup {general} 0x{expected:x}, fast path {fast} 0x{actual:x}");
            compared++;
            found += fast ? 1 : 0;
        }
        Assert.True(compared > 5, $"{library}: only {compared} names compared");
        Assert.True(found > 0, $"{library}: no name found");
    }

    [Fact]
    public void Hashing_chars_gives_the_hash_of_the_bytes_and_flags_what_is_not_plain_ascii()
    {
        var random = new Random(11);
        for (int length = 0; length < 40; length++)
        {
            for (int round = 0; round < 20; round++)
            {
                var chars = new char[length];
                for (int i = 0; i < length; i++)
                    chars[i] = (char)random.Next(1, 0x80);
                uint fromChars = GnuHashTable.Hash(chars, out bool ascii);
                Assert.True(ascii);
                Assert.Equal(GnuHashTable.Hash(Encoding.ASCII.GetBytes(chars)), fromChars);
            }
        }
        // Every pair of ASCII chars is ASCII (a flag built by OR-ing chars must not reach 0x80 from two of them).
        for (int a = 1; a < 0x80; a++)
            for (int b = 1; b < 0x80; b++)
            {
                GnuHashTable.Hash([(char)a, (char)b, 'x', 'y', (char)a], out bool ok);
                if (!ok)
                    Assert.Fail($"U+{a:X4} U+{b:X4} flagged as not ASCII");
            }
        foreach (string bad in new[] { "mal\0loc", "\0", "caf\u00e9", "\u0080abc", "abcd\uffff", "ab\ud83d\ude00" })
        {
            GnuHashTable.Hash(bad, out bool ascii);
            Assert.False(ascii, bad);
        }
    }

    [Fact]
    public void The_bucket_remainder_by_multiplication_is_the_remainder()
    {
        var random = new Random(7);
        foreach (uint divisor in new uint[] { 1, 2, 3, 7, 16, 17, 1021, 4099, 65521, 1u << 20, (1u << 28) + 3, 536_870_909, int.MaxValue })
        {
            ulong multiplier = GnuHashTable.BucketMultiplier(divisor);
            foreach (uint value in new uint[] { 0, 1, divisor - 1, divisor, divisor + 1, uint.MaxValue, uint.MaxValue - 1, 0x8000_0000 })
                Assert.Equal(value % divisor, GnuHashTable.FastMod(value, divisor, multiplier));
            for (int i = 0; i < 10_000; i++)
            {
                uint value = (uint)random.NextInt64(0, 1L << 32);
                Assert.Equal(value % divisor, GnuHashTable.FastMod(value, divisor, multiplier));
            }
        }
    }
}
