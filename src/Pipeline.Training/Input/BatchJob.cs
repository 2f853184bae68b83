namespace Pipeline.Training.Input;

/// <summary>A batch on its way: its records, the buffer workers decode them into, and when it is done.</summary>
/// <remarks>
/// The producer hands jobs to the consumer in order and their chunks to the workers; the consumer waits on each
/// job in turn, so batches come out in order however the workers' chunks finish. The last chunk's worker sets the
/// event after its writes (and any failure) are made, and the event's barrier publishes them to the consumer.
/// </remarks>
internal sealed class BatchJob
{
    // An event, not a task: setting it wakes the waiting consumer directly, with no hop through the thread pool.
    // It is never disposed: a slim event only holds an OS handle once its WaitHandle is asked for, which never happens.
    private readonly ManualResetEventSlim _done = new();
    private readonly Lock _failureLock = new();
    private int _pendingChunks;
    private int _failedIndex = int.MaxValue;
    private Exception? _failure;

    /// <param name="augment">Whether the examples get their random augmentation (training only).</param>
    public BatchJob(Batch batch, RawRecord[] records, long epoch, long firstPosition, bool augment, int chunks)
    {
        Batch = batch;
        Records = records;
        Epoch = epoch;
        FirstPosition = firstPosition;
        Augment = augment;
        _pendingChunks = chunks;
    }

    public Batch Batch { get; }

    public RawRecord[] Records { get; }

    public long Epoch { get; }

    /// <summary>The position in its epoch of the batch's first example.</summary>
    public long FirstPosition { get; }

    public bool Augment { get; }

    /// <summary>Waits until every chunk is decoded; throws the first bad example's error (by position, not by time).</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> was cancelled first.</exception>
    public void Wait(CancellationToken cancellation)
    {
        _done.Wait(cancellation);
        if (_failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_failure);
        }
    }

    public void Fail(int index, Exception error)
    {
        lock (_failureLock)
        {
            if (index < _failedIndex)
            {
                (_failedIndex, _failure) = (index, error);
            }
        }
    }

    public void ChunkFinished()
    {
        if (Interlocked.Decrement(ref _pendingChunks) != 0)
        {
            return;
        }
        _done.Set();
    }
}
