using Loader.Elf;
using Loader.Mapping;

namespace Loader.Tests.Mapping;

/// <summary>The thread's spare array for decoded program headers: one use at a time, nothing large kept.</summary>
public sealed class DecodedHeaderArrayTests
{
    [Fact]
    public void A_returned_array_is_lent_again_and_a_nested_use_gets_one_of_its_own()
    {
        var first = DecodedHeaderArray.Rent(9);
        Assert.True(first.Length >= 9);
        var nested = DecodedHeaderArray.Rent(9); // an initializer's load while the first is in use
        Assert.NotSame(first, nested);
        DecodedHeaderArray.Return(nested);
        DecodedHeaderArray.Return(first);
        var again = DecodedHeaderArray.Rent(first.Length);
        Assert.True(ReferenceEquals(again, first) || ReferenceEquals(again, nested));
        DecodedHeaderArray.Return(again);
    }

    [Fact]
    public void An_array_past_the_largest_kept_is_dropped_and_a_short_one_is_not_lent_for_more()
    {
        var huge = DecodedHeaderArray.Rent(65_535);
        Assert.True(huge.Length >= 65_535);
        DecodedHeaderArray.Return(huge);
        Assert.NotSame(huge, DecodedHeaderArray.Rent(65_535));

        var small = DecodedHeaderArray.Rent(16);
        DecodedHeaderArray.Return(small);
        var larger = DecodedHeaderArray.Rent(small.Length + 1);
        Assert.NotSame(small, larger);
        Assert.True(larger.Length > small.Length);
    }

    [Fact]
    public void Each_thread_has_its_own_spare()
    {
        var mine = DecodedHeaderArray.Rent(12);
        DecodedHeaderArray.Return(mine);
        ProgramHeader[]? theirs = null;
        var thread = new Thread(() => theirs = DecodedHeaderArray.Rent(12));
        thread.Start();
        thread.Join();
        Assert.NotNull(theirs);
        Assert.NotSame(mine, theirs);
    }
}
