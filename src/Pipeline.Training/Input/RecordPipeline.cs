using System.Collections.Concurrent;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;

namespace Pipeline.Training.Input;

/// <summary>
/// The reference TPU lab's tf.data input pipeline over the Records stage's shards: shards read in parallel and
/// interleaved, a shuffle buffer, parallel decoding and augmentation, batching and prefetching.
/// </summary>
/// <remarks>
/// Training batch k is a function of the shard contents, the options and k alone (not of timing, thread count or
/// where a run started), which is what lets an interrupted training run resume to the same weights. Each call to
/// <see cref="Training"/> or <see cref="Evaluation"/> runs its own reader, producer and worker threads, started on
/// the first MoveNext and stopped when the enumerator is disposed.
/// </remarks>
public sealed class RecordPipeline
{
    /// <summary>Separates the shuffle's draws from the augmentation's, which use the same seed.</summary>
    private const long ShuffleStream = 1;

    /// <summary>The most examples a worker takes at once: enough to amortize the hand-off, few enough to spread a batch.</summary>
    private const int MaxChunk = 16;

    private readonly string[] _shards;
    private readonly int _workers;

    /// <param name="shardPaths">The split's shards, in any order; errors name them as given.</param>
    /// <exception cref="Pipeline.Core.Records.TfRecordCorruptException">A shard's framing is damaged.</exception>
    public RecordPipeline(IReadOnlyList<string> shardPaths, InputSpec input, PipelineOptions options)
    {
        ArgumentNullException.ThrowIfNull(shardPaths);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(options);
        if (shardPaths.Count == 0)
        {
            throw new ArgumentException("there are no shards to read", nameof(shardPaths));
        }
        input.Validate();
        options.Validate();

        _shards = [.. shardPaths.OrderBy(Path.GetFileName, StringComparer.Ordinal).ThenBy(p => p, StringComparer.Ordinal)];
        _workers = options.Workers == 0 ? Environment.ProcessorCount : options.Workers;
        Input = input;
        Options = options;
        ExampleCount = checked(RecordCounter.Count(_shards).Sum());
        StepsPerEpoch = ExampleCount / options.BatchSize;
    }

    /// <summary>The shards in reading order: sorted by file name.</summary>
    public IReadOnlyList<string> Shards => _shards;

    /// <summary>The shape and normalization of the images produced.</summary>
    public InputSpec Input { get; }

    /// <summary>Batching, shuffling, augmentation and parallelism.</summary>
    public PipelineOptions Options { get; }

    /// <summary>Records in all shards, counted once from the frame headers when the pipeline opens.</summary>
    public int ExampleCount { get; }

    /// <summary>Full batches per epoch: ExampleCount / BatchSize; training drops the remainder of each epoch.</summary>
    public int StepsPerEpoch { get; }

    /// <summary>
    /// Training batches from step <paramref name="startStep"/> on, forever: exactly BatchSize examples each, shuffled
    /// and augmented; batch k is position k mod StepsPerEpoch of epoch k / StepsPerEpoch. Skipped steps read their
    /// records but decode none of them. Dispose each batch when done with it.
    /// </summary>
    /// <param name="share">
    /// In data-parallel training, this rank's rows of each batch: it decodes only those, and gets batches of that many
    /// examples, each augmented as it would be at its place in the whole batch. Every rank still reads every record,
    /// since a batch's records come from the one shuffled order (reading is a small part of the cost; decoding is not).
    /// </param>
    /// <exception cref="PipelineException">The shards hold less than one batch, or a record cannot be read or decoded.</exception>
    public IEnumerable<Batch> Training(long startStep, CancellationToken cancellation = default, RankShare? share = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(startStep);
        if (StepsPerEpoch == 0)
        {
            throw new PipelineException(
                $"{ExampleCount} examples make no full batch of {Options.BatchSize}: lower train.batch_size",
                Path.GetDirectoryName(_shards[0]));
        }
        var rows = share ?? RankShare.Whole;
        return Run((ordered, work, stop) => ProduceTraining(startStep, rows, ordered, work, stop), cancellation);
    }

    /// <summary>
    /// Every example once, in the interleaved shard order, neither shuffled nor augmented; the last batch holds the
    /// remainder. Dispose each batch when done with it.
    /// </summary>
    /// <param name="share">In data-parallel evaluation, this rank's rows of each batch (see <see cref="RankShare"/>); a rank may get an empty batch.</param>
    /// <exception cref="PipelineException">A record cannot be read or decoded.</exception>
    public IEnumerable<Batch> Evaluation(CancellationToken cancellation = default, RankShare? share = null)
    {
        var rows = share ?? RankShare.Whole;
        return Run((ordered, work, stop) => ProduceEvaluation(rows, ordered, work, stop), cancellation);
    }

    /// <summary>The records of an epoch in the order its batches take them: interleaved, then shuffled for training.</summary>
    internal IEnumerable<RawRecord> EpochOrder(long epoch, bool shuffle, CancellationToken cancellation)
    {
        var records = ShardInterleaver.Read(_shards, cancellation);
        return shuffle ? ShuffleBuffer.Shuffle(records, Options.ShuffleBuffer, SplitMix64.For(Options.Seed, ShuffleStream, epoch)) : records;
    }

    private IEnumerable<Batch> Run(Action<BlockingCollection<BatchJob>, BlockingCollection<WorkItem>, CancellationToken> produce, CancellationToken cancellation)
    {
        // Blocking collections rather than channels between these dedicated threads: a blocked thread is woken
        // directly, where a channel would queue the wake-up to the thread pool, which the caller may be starving.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        using var ordered = new BlockingCollection<BatchJob>(Options.Prefetch);
        using var work = new BlockingCollection<WorkItem>();
        var producer = Task.Factory.StartNew(
            () =>
            {
                try
                {
                    produce(ordered, work, stop.Token);
                }
                finally
                {
                    ordered.CompleteAdding();
                    work.CompleteAdding();
                }
            },
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var workers = Enumerable.Range(0, _workers)
            .Select(_ => Task.Factory.StartNew(() => Work(work, stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))
            .ToArray();

        BatchJob? waiting = null;
        try
        {
            while (ordered.TryTake(out var job, Timeout.Infinite, stop.Token))
            {
                waiting = job;
                job.Wait(stop.Token);
                stop.Token.ThrowIfCancellationRequested();
                waiting = null;
                yield return job.Batch;
            }
            // The producer ended; if reading failed, this is where its error surfaces, after every batch before it.
            producer.GetAwaiter().GetResult();
        }
        finally
        {
            stop.Cancel();
            // Their errors are either rethrown above already or consequences of this cancellation.
            WaitIgnoringErrors(producer);
            foreach (var worker in workers)
            {
                WaitIgnoringErrors(worker);
            }
            // Only now that no worker can still be writing into them do the unconsumed buffers go back to the pool.
            waiting?.Batch.Dispose();
            while (ordered.TryTake(out var left))
            {
                left.Batch.Dispose();
            }
        }
    }

    private void ProduceTraining(long startStep, RankShare share, BlockingCollection<BatchJob> ordered, BlockingCollection<WorkItem> work, CancellationToken cancellation)
    {
        var batchSize = Options.BatchSize;
        var epoch = startStep / StepsPerEpoch;
        var step = (int)(startStep % StepsPerEpoch);
        while (true)
        {
            using (var records = EpochOrder(epoch, shuffle: true, cancellation).GetEnumerator())
            {
                for (var skipped = (long)step * batchSize; skipped > 0; skipped--)
                {
                    NextRecord(records);
                }
                for (; step < StepsPerEpoch; step++)
                {
                    var batch = new RawRecord[batchSize];
                    for (var i = 0; i < batchSize; i++)
                    {
                        batch[i] = NextRecord(records);
                    }
                    var (first, end) = share.Of(batchSize);
                    Post(batch[first..end], epoch, ((long)step * batchSize) + first, augment: Options.Augment is not null, ordered, work, cancellation);
                }
            }
            epoch++;
            step = 0;
        }
    }

    private void ProduceEvaluation(RankShare share, BlockingCollection<BatchJob> ordered, BlockingCollection<WorkItem> work, CancellationToken cancellation)
    {
        using var records = EpochOrder(0, shuffle: false, cancellation).GetEnumerator();
        long position = 0;
        while (true)
        {
            var batch = new RawRecord[Options.BatchSize];
            var count = 0;
            while (count < batch.Length && records.MoveNext())
            {
                batch[count++] = records.Current;
            }
            if (count == 0)
            {
                return;
            }
            var (first, end) = share.Of(count);
            Post(batch[first..end], 0, position + first, augment: false, ordered, work, cancellation);
            position += count;
            if (count < Options.BatchSize)
            {
                return;
            }
        }
    }

    private RawRecord NextRecord(IEnumerator<RawRecord> records) =>
        records.MoveNext()
            ? records.Current
            : throw new PipelineException(
                $"the shards hold fewer records than the {ExampleCount} counted when the pipeline opened: were they rebuilt while it ran?",
                Path.GetDirectoryName(_shards[0]));

    /// <summary>Queues the batch for the consumer (waiting for room), then its chunks for the workers.</summary>
    private void Post(RawRecord[] records, long epoch, long firstPosition, bool augment,
        BlockingCollection<BatchJob> ordered, BlockingCollection<WorkItem> work, CancellationToken cancellation)
    {
        var count = records.Length;
        var chunk = Math.Clamp((count + _workers - 1) / _workers, 1, MaxChunk);
        // An empty share (a rank's part of a short last evaluation batch) is done as it is made: one chunk, finished.
        var job = new BatchJob(new Batch(Input, count), records, epoch, firstPosition, augment, Math.Max(1, (count + chunk - 1) / chunk));
        try
        {
            ordered.Add(job, cancellation);
        }
        catch
        {
            job.Batch.Dispose();
            throw;
        }
        if (count == 0)
        {
            job.ChunkFinished();
        }
        for (var start = 0; start < count; start += chunk)
        {
            work.Add(new WorkItem(job, start, Math.Min(count, start + chunk)), CancellationToken.None);
        }
    }

    private void Work(BlockingCollection<WorkItem> work, CancellationToken cancellation)
    {
        var decoder = new ExampleDecoder(Input);
        try
        {
            while (work.TryTake(out var item, Timeout.Infinite, cancellation))
            {
                Decode(item, decoder);
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // Stopped: the consumer has gone or was cancelled.
        }
    }

    private void Decode(WorkItem item, ExampleDecoder decoder)
    {
        var job = item.Job;
        var values = Input.ValuesPerImage;
        try
        {
            for (var i = item.Start; i < item.End; i++)
            {
                try
                {
                    var record = job.Records[i];
                    var augmentation = job.Augment ? Augmentation.Draw(Options.Augment, Options.Seed, job.Epoch, job.FirstPosition + i) : Augmentation.None;
                    job.Batch.Labels[i] = decoder.Decode(record, _shards[record.Shard], job.Batch.Images.AsSpan(i * values, values), augmentation);
                }
                catch (Exception e)
                {
                    job.Fail(i, e);
                }
            }
        }
        finally
        {
            job.ChunkFinished();
        }
    }

    private static void WaitIgnoringErrors(Task task)
    {
        try
        {
            task.Wait();
        }
        catch (AggregateException)
        {
            // See the caller: nothing here is news to the consumer.
        }
    }
}
