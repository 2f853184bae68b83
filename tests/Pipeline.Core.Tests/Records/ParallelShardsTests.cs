using System.Collections.Concurrent;
using Pipeline.Core.Records;

namespace Pipeline.Core.Tests.Records;

public sealed class ParallelShardsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Every_shard_gets_its_own_items_in_order_and_never_two_writes_at_once(int workers)
    {
        // Uneven shards, an empty one among them, and encodes that take varying time so chunks finish out of order.
        int[] ends = [37, 37, 90, 91, 200];
        var written = ends.Select(_ => new List<int>()).ToArray();
        var active = new int[ends.Length];
        var overlapped = 0;

        ParallelShards.Run(200, ends,
            item =>
            {
                Thread.SpinWait((item * 7919 % 13) * 2000);
                return item;
            },
            (shard, item, result) =>
            {
                if (Interlocked.Increment(ref active[shard]) != 1)
                {
                    Interlocked.Increment(ref overlapped);
                }
                Assert.Equal(item, result);
                written[shard].Add(result);
                Thread.SpinWait(500);
                Interlocked.Decrement(ref active[shard]);
            },
            CancellationToken.None, workers);

        Assert.Equal(0, overlapped);
        var start = 0;
        for (var shard = 0; shard < ends.Length; shard++)
        {
            Assert.Equal(Enumerable.Range(start, ends[shard] - start), written[shard]);
            start = ends[shard];
        }
    }

    [Fact]
    public void The_failure_reported_is_the_first_item_in_order_not_the_first_in_time()
    {
        var written = new ConcurrentBag<int>();

        var error = Assert.Throws<InvalidOperationException>(() => ParallelShards.Run(400, [100, 400],
            item => item switch
            {
                // Item 3 fails late; item 20, in a later chunk, fails at once.
                3 => SlowFailure(item),
                20 => throw new InvalidOperationException("item 20"),
                _ => item,
            },
            (_, item, _) => written.Add(item),
            CancellationToken.None, workers: 4));

        Assert.Equal("item 3", error.Message);
    }

    [Fact]
    public void A_slow_good_item_before_a_bad_one_in_its_chunk_does_not_hide_it()
    {
        // Item 1 is slow but fine and item 6, in the same chunk, is bad; item 30 fails first in time meanwhile.
        var error = Assert.Throws<InvalidOperationException>(() => ParallelShards.Run(100, [100],
            item => item switch
            {
                1 => Slow(item),
                6 or 30 => throw new InvalidOperationException($"item {item}"),
                _ => item,
            },
            (_, _, _) => { },
            CancellationToken.None, workers: 2));

        Assert.Equal("item 6", error.Message);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(16)]
    public void Whatever_the_timing_the_lowest_bad_item_is_reported(int workers)
    {
        var random = new Random(11);
        for (var trial = 0; trial < 60; trial++)
        {
            var count = random.Next(20, 300);
            var bad = Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(count)).ToHashSet();
            var delays = Enumerable.Range(0, count).Select(_ => random.Next(4) == 0 ? random.Next(1, 20_000) : 0).ToArray();
            var ends = new[] { count / 3, count / 2, count };

            var error = Assert.Throws<InvalidOperationException>(() => ParallelShards.Run(count, ends,
                item =>
                {
                    Thread.SpinWait(delays[item]);
                    return bad.Contains(item) ? throw new InvalidOperationException($"item {item}") : item;
                },
                (_, _, _) => Thread.SpinWait(Random.Shared.Next(2) * 100),
                CancellationToken.None, workers));

            Assert.Equal($"item {bad.Min()}", error.Message);
        }
    }

    [Fact]
    public void A_failed_write_stops_the_run_and_is_reported()
    {
        var error = Assert.Throws<IOException>(() => ParallelShards.Run(100, [50, 100],
            item => item,
            (shard, item, _) =>
            {
                if (item == 60)
                {
                    throw new IOException("disk full writing item 60");
                }
            },
            CancellationToken.None, workers: 2));

        Assert.Equal("disk full writing item 60", error.Message);
    }

    [Fact]
    public void Memory_held_is_bounded_when_one_shard_waits_for_a_slow_item()
    {
        const int workers = 2;
        var encoded = 0;
        var writtenCount = 0;
        var mostWaiting = 0;

        ParallelShards.Run(2000, [1000, 2000],
            item =>
            {
                if (item == 0)
                {
                    Thread.Sleep(200);
                }
                var waiting = Interlocked.Increment(ref encoded) - Volatile.Read(ref writtenCount);
                InterlockedMax(ref mostWaiting, waiting);
                return item;
            },
            (_, _, _) => Interlocked.Increment(ref writtenCount),
            CancellationToken.None, workers);

        // Chunks in flight are at most 2 per worker plus one, each of ChunkSize items.
        Assert.InRange(mostWaiting, 1, (2 * workers + 1) * ParallelShards.ChunkSize);
        Assert.Equal(2000, writtenCount);
    }

    [Fact]
    public void Cancellation_stops_the_run()
    {
        using var cancel = new CancellationTokenSource();
        var written = 0;

        Assert.ThrowsAny<OperationCanceledException>(() => ParallelShards.Run(10_000, [10_000],
            item =>
            {
                if (item == 100)
                {
                    cancel.Cancel();
                }
                return item;
            },
            (_, _, _) => Interlocked.Increment(ref written),
            cancel.Token, workers: 2));

        Assert.InRange(written, 0, 200);
    }

    [Fact]
    public void No_items_and_empty_shards_call_nothing()
    {
        ParallelShards.Run<int>(0, [0, 0, 0], _ => throw new InvalidOperationException("encoded"), (_, _, _) => throw new InvalidOperationException("written"), CancellationToken.None);
        ParallelShards.Run<int>(0, [], _ => throw new InvalidOperationException("encoded"), (_, _, _) => throw new InvalidOperationException("written"), CancellationToken.None);
    }

    [Fact]
    public void Shard_ends_that_do_not_cover_the_items_are_refused()
    {
        Assert.Throws<ArgumentException>(() => ParallelShards.Run(10, [5, 9], i => i, (_, _, _) => { }, CancellationToken.None));
        Assert.Throws<ArgumentException>(() => ParallelShards.Run(10, [6, 5, 10], i => i, (_, _, _) => { }, CancellationToken.None));
    }

    private static int Slow(int item)
    {
        Thread.Sleep(100);
        return item;
    }

    private static int SlowFailure(int item)
    {
        Thread.Sleep(100);
        throw new InvalidOperationException($"item {item}");
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }
}
