using Loader.Native;

namespace Loader.Tests.Native;

/// <summary>
/// <see cref="ScratchArray{T}"/>: every use starts from zeros, whether the previous one was cleared with a memset
/// (small) or with madvise (large, which leaves no page resident); growing maps a larger region; Dispose unmaps.
/// </summary>
public sealed class ScratchArrayTests
{
    [Fact]
    public void Each_use_starts_from_zeros_and_a_large_use_leaves_no_page_resident()
    {
        using var scratch = new ScratchArray<long>();
        const int Small = 1_000, Large = 200_000; // 8 KB, cleared in place; 1.6 MB, given back
        Assert.True(Small * sizeof(long) <= ScratchArray<long>.LargestClearedInPlace);
        Assert.True(Large * sizeof(long) > ScratchArray<long>.LargestClearedInPlace);

        Fill(scratch, Small);
        nint first = scratch.Address;
        scratch.Clear();
        Assert.Equal(0, scratch.Length);
        Assert.True(ResidentPages.Count(scratch.Address, scratch.MappedBytes) > 0, "the small use's pages should stay for the next use");

        Fill(scratch, Large);
        Assert.NotEqual(first, scratch.Address); // grown: a new mapping
        Assert.True(scratch.MappedBytes >= Large * sizeof(long));
        scratch.Clear();
        Assert.Equal(0, ResidentPages.Count(scratch.Address, scratch.MappedBytes));

        Fill(scratch, Large); // asserts the zeros first
        scratch.Clear();
        Fill(scratch, Small);
        scratch.Clear();
    }

    [Fact]
    public void An_index_past_the_use_is_refused_and_Dispose_unmaps()
    {
        var scratch = new ScratchArray<long>();
        scratch.Use(10, "test");
        scratch[9] = 1;
        Assert.Throws<IndexOutOfRangeException>(() => scratch[10]);
        scratch.Clear();
        Assert.Throws<IndexOutOfRangeException>(() => scratch[0]);
        scratch.Dispose();
        Assert.Equal(0, scratch.Address);
        Assert.Equal(0UL, scratch.MappedBytes);
    }

    /// <summary>Takes <paramref name="count"/> entries, checks they are all zero and writes every one, twice over (with
    /// a <see cref="ScratchArray{T}.Clear"/> between); leaves them in use, written.</summary>
    private static void Fill(ScratchArray<long> scratch, int count)
    {
        scratch.Use(count, "test");
        Assert.Equal(count, scratch.Length);
        Assert.Equal(0, Sum(scratch, count));
        for (uint i = 0; i < count; i++)
            scratch[i] = i + 1;
        Assert.Equal((long)count * (count + 1) / 2, Sum(scratch, count));
        scratch.Clear();
        scratch.Use(count, "test");
        Assert.Equal(0, Sum(scratch, count)); // cleared, then lent again
        for (uint i = 0; i < count; i++)
            scratch[i] = i + 1;
    }

    private static long Sum(ScratchArray<long> scratch, int count)
    {
        long sum = 0;
        for (uint i = 0; i < count; i++)
            sum += scratch[i];
        return sum;
    }
}
