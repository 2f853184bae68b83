using System.Runtime.ExceptionServices;

namespace Pipeline.Core.Records;

/// <summary>
/// Encodes a split's items on every core and hands each shard its results in input order, with no thread set
/// aside for writing: the thread that finishes the chunk a shard waits for writes it, and any chunks after it that
/// are already done. Shards are written in parallel, and a shard's writes overlap other chunks' encoding.
/// </summary>
/// <remarks>
/// The ordered PLINQ pass this replaces kept one thread for the writes (and the output hash), three threads on two
/// cores; on a folder of JPEGs that thread was the bottleneck. Here the order is kept per shard by a small
/// sequencer, so the bytes never depend on timing.
/// </remarks>
internal static class ParallelShards
{
    /// <summary>Items per unit of work: enough to make the hand-over cost nothing, few enough to spread a small shard.</summary>
    internal const int ChunkSize = 8;

    /// <param name="count">The number of items, indexed 0..count-1 in output order.</param>
    /// <param name="shardEnds">For each shard, the index after its last item (shard k holds [end(k-1), end(k))).</param>
    /// <param name="encode">Makes an item's result; runs on any thread, in any order.</param>
    /// <param name="write">Takes a shard's results in item order; never runs twice at once for the same shard.</param>
    /// <remarks>
    /// When an item's encoding throws, the exception of the lowest item index is rethrown, whatever the timing: chunks
    /// are taken in order, so every chunk before a failing one was taken, and a chunk taken is encoded up to its own
    /// first failure. Writing stops at the first failure known; a write that throws (a full disk) is reported as it
    /// comes, since writes after another failure are never made.
    /// </remarks>
    public static void Run<T>(int count, IReadOnlyList<int> shardEnds, Func<int, T> encode, Action<int, int, T> write,
        CancellationToken cancellation, int workers = 0)
    {
        workers = workers > 0 ? workers : Environment.ProcessorCount;
        var run = new Runner<T>(count, shardEnds, encode, write, workers, cancellation);
        run.Execute();
    }

    private sealed class Runner<T>
    {
        private readonly List<Chunk> _chunks = [];
        private readonly Shard[] _shards;
        private readonly Func<int, T> _encode;
        private readonly Action<int, int, T> _write;
        private readonly int _workers;
        private readonly CancellationToken _cancellation;
        private readonly CancellationTokenSource _stop;
        // Chunks encoded but not yet written: bounds the memory a slow shard can make the others hold.
        private readonly SemaphoreSlim _slots;
        private readonly Lock _failureGate = new();
        private int _next;
        private (int Index, ExceptionDispatchInfo Error)? _failure;
        // The index of _failure, int.MaxValue while there is none: read without the lock to cut work short.
        private int _failedAt = int.MaxValue;

        public Runner(int count, IReadOnlyList<int> shardEnds, Func<int, T> encode, Action<int, int, T> write, int workers, CancellationToken cancellation)
        {
            if (shardEnds.Count == 0 ? count != 0 : shardEnds[^1] != count)
            {
                throw new ArgumentException($"the shards end at {(shardEnds.Count == 0 ? 0 : shardEnds[^1])}, not at the item count {count}", nameof(shardEnds));
            }
            _shards = new Shard[shardEnds.Count];
            var start = 0;
            for (var shard = 0; shard < shardEnds.Count; shard++)
            {
                if (shardEnds[shard] < start)
                {
                    throw new ArgumentException("shard ends must not decrease", nameof(shardEnds));
                }
                _shards[shard] = new Shard(_chunks.Count);
                for (var first = start; first < shardEnds[shard]; first += ChunkSize)
                {
                    _chunks.Add(new Chunk(shard, first, Math.Min(first + ChunkSize, shardEnds[shard])));
                }
                start = shardEnds[shard];
            }
            _encode = encode;
            _write = write;
            _workers = Math.Max(1, Math.Min(workers, _chunks.Count));
            _cancellation = cancellation;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            _slots = new SemaphoreSlim(2 * _workers + 1);
        }

        public void Execute()
        {
            using (_stop)
            using (_slots)
            {
                if (_chunks.Count > 0)
                {
                    // Threads of their own, not the pool's: a busy pool (a test host, a build engine) would add
                    // workers only after its starvation delay, and the split would run on one core meanwhile.
                    var helpers = new List<Task>(_workers - 1);
                    try
                    {
                        for (var helper = 1; helper < _workers; helper++)
                        {
                            helpers.Add(Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));
                        }
                        Work();
                    }
                    finally
                    {
                        // Nothing may outlive this call: the caller closes the shards' files once it returns.
                        Task.WaitAll(helpers);
                    }
                }
            }
            _cancellation.ThrowIfCancellationRequested();
            _failure?.Error.Throw();
        }

        private void Work()
        {
            while (true)
            {
                try
                {
                    _slots.Wait(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                var index = Interlocked.Increment(ref _next) - 1;
                // A chunk taken is encoded even after a later one failed: it may hold an earlier bad item. Only a
                // failure before it makes it pointless.
                if (index >= _chunks.Count || _cancellation.IsCancellationRequested || Volatile.Read(ref _failedAt) < _chunks[index].Start)
                {
                    return;
                }
                var chunk = _chunks[index];
                var results = new T[chunk.End - chunk.Start];
                for (var item = chunk.Start; item < chunk.End; item++)
                {
                    if (_cancellation.IsCancellationRequested || Volatile.Read(ref _failedAt) < item)
                    {
                        return;
                    }
                    try
                    {
                        results[item - chunk.Start] = _encode(item);
                    }
                    catch (Exception e)
                    {
                        Fail(item, e);
                        return;
                    }
                }
                Complete(index, results);
            }
        }

        /// <summary>
        /// Parks a finished chunk, then writes whatever its shard can take next: a chunk is taken only when it is the
        /// shard's next (under the shard's lock), and the next only moves on once it is written, so a shard's writes
        /// never overlap and always come in order, whichever thread makes them.
        /// </summary>
        private void Complete(int index, T[] results)
        {
            var chunk = _chunks[index];
            var shard = _shards[chunk.Shard];
            var written = -1;
            while (true)
            {
                T[]? batch;
                int next;
                lock (shard)
                {
                    if (written >= 0)
                    {
                        shard.NextChunk = written + 1;
                    }
                    else
                    {
                        shard.Done[index] = results;
                    }
                    next = shard.NextChunk;
                    if (_stop.IsCancellationRequested || !shard.Done.Remove(next, out batch))
                    {
                        return;
                    }
                }
                var start = _chunks[next].Start;
                for (var i = 0; i < batch.Length; i++)
                {
                    try
                    {
                        _write(chunk.Shard, start + i, batch[i]);
                    }
                    catch (Exception e)
                    {
                        Fail(start + i, e);
                        return;
                    }
                }
                written = next;
                _slots.Release();
            }
        }

        private void Fail(int index, Exception error)
        {
            lock (_failureGate)
            {
                if (_failure is null || index < _failure.Value.Index)
                {
                    _failure = (index, ExceptionDispatchInfo.Capture(error));
                    Volatile.Write(ref _failedAt, index);
                }
            }
            _stop.Cancel();
        }

        private sealed class Shard(int firstChunk)
        {
            /// <summary>The first chunk of this shard not yet written.</summary>
            public int NextChunk = firstChunk;

            /// <summary>Finished chunks waiting for the ones before them, by chunk index.</summary>
            public readonly Dictionary<int, T[]> Done = [];
        }
    }

    private readonly record struct Chunk(int Shard, int Start, int End);
}
