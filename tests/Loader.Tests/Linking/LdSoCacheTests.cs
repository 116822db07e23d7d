using System.Buffers.Binary;
using Loader.Linking;
using Loader.Tests.Oracles;
using static Loader.Tests.Linking.LdSoCacheFiles;

namespace Loader.Tests.Linking;

/// <summary>/etc/ld.so.cache: the system cache against <c>ldconfig -p</c>, and synthetic caches in both formats,
/// well-formed and broken.</summary>
public class LdSoCacheTests
{
    [Fact]
    public void SystemCacheAgreesWithLdconfigForEveryX86_64Entry()
    {
        var (printed, count) = Ldconfig.Print();
        var cache = LdSoCache.System;
        Assert.Equal(count, cache.TotalEntryCount);

        // For each soname, glibc takes the first x86-64 entry without hwcaps in file order; ldconfig -p prints file order.
        var expected = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (soName, flags, path) in printed)
        {
            if (flags == "libc6,x86-64")
                expected.TryAdd(soName, path);
        }
        Assert.NotEmpty(expected);
        foreach (var (soName, path) in expected)
            Assert.Equal(path, cache.Lookup(soName));
        Assert.Equal(expected.Count, cache.Entries.Select(e => e.SoName).Distinct().Count());
        Assert.Equal(printed.Count(e => e.Flags == "libc6,x86-64"), cache.Entries.Count);
        Assert.Equal(expected["libz.so.1"], cache.Lookup("libz.so.1"));
        Assert.Null(cache.Lookup("libdoes-not-exist.so.42"));
    }

    // ---- synthetic caches (LdSoCacheFiles builds them) -------------------------------------------------------

    private static readonly Entry[] Sample =
    [
        new(0x0303, "libfoo.so.1", "/v3/libfoo.so.1", Hwcap: (1UL << 62) | 1), // glibc-hwcaps extension entry: ignored
        new(0x0303, "libfoo.so.1", "/first/libfoo.so.1"),
        new(0x0303, "libfoo.so.1", "/second/libfoo.so.1"),
        new(0x0003, "libbar.so.2", "/i386/libbar.so.2"),                      // libc6 without x86-64: not ours
        new(0x0303, "libbar.so.2", "/x64/libbar.so.2"),
        new(0x0803, "libx32.so.1", "/libx32/libx32.so.1"),                    // FLAG_X8664_LIBX32
    ];

    [Fact]
    public void NewFormatTakesTheFirstPlainX86_64EntryPerSoname()
    {
        var cache = LdSoCache.Parse(BuildNew(Sample), "test.cache");
        Assert.Equal("/first/libfoo.so.1", cache.Lookup("libfoo.so.1"));
        Assert.Equal("/x64/libbar.so.2", cache.Lookup("libbar.so.2"));
        Assert.Null(cache.Lookup("libx32.so.1"));
        Assert.Equal(6, cache.TotalEntryCount);
        Assert.Equal(
            [("libfoo.so.1", "/first/libfoo.so.1"), ("libfoo.so.1", "/second/libfoo.so.1"), ("libbar.so.2", "/x64/libbar.so.2")],
            cache.Entries);
    }

    [Fact]
    public void OldFormatAloneAndOldWithNewAfterIt()
    {
        var plain = Sample.Where(e => e.Hwcap == 0).ToArray();
        var old = LdSoCache.Parse(BuildOld(plain), "old.cache");
        Assert.Equal("/first/libfoo.so.1", old.Lookup("libfoo.so.1"));
        Assert.Equal("/x64/libbar.so.2", old.Lookup("libbar.so.2"));

        // With a new-format part after the old entries, the new part is used (the old one here has no strings at all).
        var both = LdSoCache.Parse(BuildOld([new(0x0303, "", "")], [new(0x0303, "libnew.so.1", "/n/libnew.so.1")]), "both.cache");
        Assert.Equal("/n/libnew.so.1", both.Lookup("libnew.so.1"));
        Assert.Single(both.Entries);
    }

    [Fact]
    public void EmptyCacheParses()
    {
        var cache = LdSoCache.Parse(BuildNew([]), "empty.cache");
        Assert.Empty(cache.Entries);
        Assert.Null(cache.Lookup("libc.so.6"));
    }

    [Fact]
    public void MalformedCachesAreLoaderExceptionsNamingTheOffset()
    {
        var good = BuildNew(Sample);

        var badMagic = (byte[])good.Clone(); badMagic[0] = (byte)'X';
        Assert.Contains("magic at offset 0x0", Refuse(badMagic).Message);

        var badVersion = (byte[])good.Clone(); badVersion[19] = (byte)'9';
        Assert.Contains("version at offset 0x11", Refuse(badVersion).Message);

        var bigEndian = (byte[])good.Clone(); bigEndian[28] = 3;
        Assert.Contains("flags at offset 0x1c", Refuse(bigEndian).Message);

        var tooMany = (byte[])good.Clone(); BinaryPrimitives.WriteUInt32LittleEndian(tooMany.AsSpan(20), uint.MaxValue);
        Assert.Contains("nlibs at offset 0x14", Refuse(tooMany).Message);

        var keyPastEnd = (byte[])good.Clone(); BinaryPrimitives.WriteUInt32LittleEndian(keyPastEnd.AsSpan(48 + 4), 0xFFFFFFF0);
        Assert.Contains("libs[0].key at offset 0x34", Refuse(keyPastEnd).Message);

        var valuePastEnd = (byte[])good.Clone(); BinaryPrimitives.WriteUInt32LittleEndian(valuePastEnd.AsSpan(48 + 24 * 2 + 8), (uint)good.Length);
        Assert.Contains("libs[2].value at offset 0x68", Refuse(valuePastEnd).Message);

        var unterminated = good[..^1]; // the last string loses its NUL
        Assert.Contains("no NUL terminator", Refuse(unterminated).Message);

        var oldTooMany = BuildOld(Sample); BinaryPrimitives.WriteUInt32LittleEndian(oldTooMany.AsSpan(12), 0x80000000);
        Assert.Contains("nlibs at offset 0xc", Refuse(oldTooMany).Message);

        Assert.Contains("empty file", Refuse([]).Message);
    }

    [Fact]
    public void EveryTruncationAndEveryByteMutationIsALoaderExceptionOrACache()
    {
        foreach (byte[] original in new[] { BuildNew(Sample), BuildOld(Sample.Where(e => e.Hwcap == 0).ToArray()) })
        {
            for (int length = 0; length < original.Length; length++)
                ParseOrRefuse(original[..length]);
            var random = new Random(5);
            for (int i = 0; i < 2000; i++)
            {
                var mutated = (byte[])original.Clone();
                for (int j = 0; j < 1 + i % 4; j++)
                    mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
                ParseOrRefuse(mutated);
            }
        }
    }

    private static void ParseOrRefuse(byte[] bytes)
    {
        try
        {
            var cache = LdSoCache.Parse(bytes, "mutated.cache");
            foreach (var (soName, _) in cache.Entries)
                Assert.NotNull(cache.Lookup(soName));
        }
        catch (LoaderException e)
        {
            Assert.StartsWith("mutated.cache: ", e.Message);
        }
    }

    private static LoaderException Refuse(byte[] bytes)
    {
        var e = Assert.Throws<LoaderException>(() => LdSoCache.Parse(bytes, "bad.cache"));
        Assert.StartsWith("bad.cache: ", e.Message);
        return e;
    }
}
