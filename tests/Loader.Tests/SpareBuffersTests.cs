using System.Runtime.CompilerServices;

namespace Loader.Tests;

/// <summary>
/// The byte buffers a load borrows (<see cref="SpareBuffers"/>): kept by the thread between loads, so that a load
/// allocates none once one has run, distinct while held at once (a nested load), and the large ones the shared pool's.
/// Each test runs on a thread of its own, whose spares start empty.
/// </summary>
public sealed class SpareBuffersTests
{
    [Fact]
    public void A_returned_buffer_is_the_next_rent_of_no_more_than_its_length() => OnFreshThread(() =>
    {
        var first = SpareBuffers.Rent(1000);
        Assert.True(first.Length >= 1000);
        SpareBuffers.Return(first);
        Assert.Same(first, SpareBuffers.Rent(first.Length));
    });

    [Fact]
    public void Buffers_held_at_once_are_distinct_and_each_comes_back() => OnFreshThread(() =>
    {
        var held = Enumerable.Range(0, 3).Select(_ => SpareBuffers.Rent(4096)).ToArray();
        Assert.Equal(3, held.Distinct().Count());
        foreach (var buffer in held)
            SpareBuffers.Return(buffer);
        var again = Enumerable.Range(0, 3).Select(_ => SpareBuffers.Rent(4096)).ToArray();
        Assert.True(held.OrderBy(RuntimeHelpers.GetHashCode).SequenceEqual(again.OrderBy(RuntimeHelpers.GetHashCode)),
            "the three buffers given back were not the three rented next");
    });

    [Fact]
    public void The_smallest_kept_buffer_that_is_long_enough_is_lent() => OnFreshThread(() =>
    {
        var small = SpareBuffers.Rent(4096);
        var large = SpareBuffers.Rent(32 * 1024);
        SpareBuffers.Return(large);
        SpareBuffers.Return(small);
        Assert.Same(small, SpareBuffers.Rent(100));
        Assert.Same(large, SpareBuffers.Rent(5000));
    });

    [Fact]
    public void A_buffer_past_the_largest_kept_is_not_kept_by_the_thread() => OnFreshThread(() =>
    {
        var huge = SpareBuffers.Rent(SpareBuffers.LargestKept + 1);
        Assert.True(huge.Length > SpareBuffers.LargestKept);
        SpareBuffers.Return(huge);
        Assert.NotSame(huge, SpareBuffers.Rent(1000));
    });

    private static void OnFreshThread(Action test)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                test();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }
}
