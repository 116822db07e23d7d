using Loader.Linking;

namespace Loader.Tests.Linking;

/// <summary><c>Linking/AddressMap</c> (IFUNC results, host handles) against a <c>Dictionary</c> given the same
/// operations: every key keeps its last value, keys in a removed range go and no other does, high (kernel-half)
/// addresses sort as unsigned.</summary>
public sealed class AddressMapTests
{
    [Fact]
    public void Agrees_with_a_dictionary_through_adds_replacements_and_growth()
    {
        var map = new AddressMap();
        var expected = new Dictionary<nint, nint>();
        var random = new Random(11);
        for (int i = 0; i < 500; i++)
        {
            nint key = (nint)(0x7f00_0000_0000L + random.Next(0, 300) * 16L);
            nint value = random.Next();
            if (i % 3 == 0)
                Assert.Equal(expected.TryAdd(key, value), map.TryAdd(key, value));
            else
            {
                map.Set(key, value);
                expected[key] = value;
            }
        }
        Assert.Equal(expected.Count, map.Count);
        foreach (var (key, value) in expected)
        {
            Assert.True(map.TryGetValue(key, out nint got), $"0x{key:x} is missing");
            Assert.Equal(value, got);
        }
        Assert.False(map.TryGetValue(unchecked((nint)0x7f00_0000_0008), out nint none)); // not a multiple of 16: never added
        Assert.Equal(0, none);
        Assert.False(map.ContainsKey(0x1000));
    }

    [Fact]
    public void RemoveRange_removes_the_keys_from_start_up_to_end_only()
    {
        var map = new AddressMap();
        nint[] keys = [0x1000, 0x1fff, 0x2000, 0x2800, 0x2fff, 0x3000, 0x4000];
        foreach (nint key in keys)
            map.Set(key, key + 1);
        map.RemoveRange(0x2000, 0x3000);
        Assert.Equal(4, map.Count);
        foreach (nint key in keys)
            Assert.Equal(key is < 0x2000 or >= 0x3000, map.ContainsKey(key));
        Assert.True(map.TryGetValue(0x3000, out nint value));
        Assert.Equal(0x3001, value);

        map.RemoveRange(0x5000, 0x6000); // nothing there
        Assert.Equal(4, map.Count);
    }

    [Fact]
    public void Addresses_with_the_top_bit_set_sort_after_the_others()
    {
        var map = new AddressMap();
        nint high = unchecked((nint)0xffff_ffff_ff60_0000); // the vsyscall page's address
        map.Set(high, 1);
        map.Set(unchecked((nint)0x7fff_0000_0000), 2);
        map.Set(0x1000, 3);
        map.RemoveRange(0x1000, unchecked((nint)0x7fff_ffff_ffff)); // the whole lower half: the high key stays
        Assert.Equal(1, map.Count);
        Assert.True(map.TryGetValue(high, out nint value));
        Assert.Equal(1, value);
    }
}
