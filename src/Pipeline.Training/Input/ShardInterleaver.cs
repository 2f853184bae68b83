using System.Threading.Channels;
using Pipeline.Core.Records;

namespace Pipeline.Training.Input;

/// <summary>Reads every shard on its own task and interleaves their records round-robin, one record at a time.</summary>
internal static class ShardInterleaver
{
    /// <summary>Records each reader may hold ahead of the interleaver, shared out over the shards.</summary>
    private const int TotalReadAhead = 1024;

    /// <summary>
    /// Shard 0's first record, shard 1's first, …, shard 0's second, …; a shard that runs out drops out of the cycle.
    /// Disposing the enumerator stops and waits for the readers.
    /// </summary>
    /// <exception cref="TfRecordCorruptException">A shard is damaged; it names the file and the record's offset.</exception>
    public static IEnumerable<RawRecord> Read(IReadOnlyList<string> shards, CancellationToken cancellation)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var readAhead = Math.Clamp(TotalReadAhead / Math.Max(1, shards.Count), 2, 64);
        var channels = new Channel<RawRecord>[shards.Count];
        var readers = new Task[shards.Count];
        for (var shard = 0; shard < shards.Count; shard++)
        {
            var channel = Channel.CreateBounded<RawRecord>(new BoundedChannelOptions(readAhead) { SingleReader = true, SingleWriter = true });
            channels[shard] = channel;
            var (path, index) = (shards[shard], shard);
            // Task.Run: the readers must never capture the caller's synchronization context, which may be blocked on them.
            readers[shard] = Task.Run(() => ReadShardAsync(path, index, channel.Writer, stop.Token), CancellationToken.None);
        }

        try
        {
            var active = Enumerable.Range(0, shards.Count).ToList();
            var turn = 0;
            while (active.Count > 0)
            {
                var reader = channels[active[turn]].Reader;
                if (reader.TryRead(out var record))
                {
                    yield return record;
                    turn = (turn + 1) % active.Count;
                }
                else if (!reader.WaitToRead(stop.Token))
                {
                    active.RemoveAt(turn);
                    if (turn == active.Count)
                    {
                        turn = 0;
                    }
                }
            }
        }
        finally
        {
            stop.Cancel();
            // Readers never fault: they hand their errors to the channel, where the loop above rethrows them.
            Task.WaitAll(readers);
        }
    }

    private static async Task ReadShardAsync(string path, int shard, ChannelWriter<RawRecord> writer, CancellationToken cancellation)
    {
        try
        {
            using var reader = TfRecordReader.Open(path);
            while (reader.TryRead(out var record))
            {
                var raw = new RawRecord(record.Data.ToArray(), shard, record.Offset);
                if (!writer.TryWrite(raw))
                {
                    await writer.WriteAsync(raw, cancellation);
                }
            }
            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
    }
}
