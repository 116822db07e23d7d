using System.Text;
using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary><c>Elf/InternedNames</c>: one string per distinct name, found again from its UTF-8 bytes, and always the
/// name the bytes decode to — ASCII or not, short or too long to keep.</summary>
public sealed class InternedNamesTests
{
    [Theory]
    [InlineData("GLIBC_2.2.5")]
    [InlineData("libc.so.6")]
    [InlineData("versión_ñ_1")] // not ASCII: more bytes than chars
    [InlineData("x")]
    public void A_name_decodes_to_itself_and_comes_back_as_the_same_string(string name)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(name);
        string first = InternedNames.Get(utf8);
        string second = InternedNames.Get(Encoding.UTF8.GetBytes(name)); // other bytes, same name
        Assert.Equal(name, first);
        Assert.Same(first, second);
    }

    [Fact]
    public void Names_that_differ_in_one_byte_or_in_length_stay_apart()
    {
        string[] names = ["LOADER_TEST_1.0", "LOADER_TEST_1.1", "LOADER_TEST_1.", "LOADER_TEST_1.00", "LOADER_TÉST_1.0"];
        var got = names.Select(n => InternedNames.Get(Encoding.UTF8.GetBytes(n))).ToArray();
        Assert.Equal(names, got);
        for (int round = 0; round < 3; round++)
            for (int i = 0; i < names.Length; i++)
                Assert.Same(got[i], InternedNames.Get(Encoding.UTF8.GetBytes(names[i])));
    }

    [Fact]
    public void A_name_longer_than_any_kept_is_still_decoded()
    {
        string name = new string('v', 300) + "é";
        Assert.Equal(name, InternedNames.Get(Encoding.UTF8.GetBytes(name)));
    }

    [Fact]
    public void Many_names_at_once_each_come_back_right_from_many_threads()
    {
        var names = Enumerable.Range(0, 600).Select(i => $"LOADER_CONCURRENT_{i}").ToArray();
        int wrong = 0;
        Parallel.For(0, 4, worker =>
        {
            for (int i = 0; i < names.Length; i++)
            {
                string name = names[(i * 7 + worker * 13) % names.Length];
                if (InternedNames.Get(Encoding.UTF8.GetBytes(name)) != name)
                    Interlocked.Increment(ref wrong);
            }
        });
        Assert.Equal(0, wrong);
    }
}
