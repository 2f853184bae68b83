namespace Pipeline.Serving.Http;

/// <summary>
/// Counts requests in flight, and on shutdown (Ctrl+C, SIGTERM, dispose) says how many it waits for and, once stopped,
/// how many finished during the drain: a stop that cut requests short would show fewer finished than were in flight.
/// </summary>
internal sealed class Drain(Action<string> log)
{
    private int _inFlight;
    private int _stopping;
    private int _finishedWhileStopping;

    /// <summary>Requests being answered now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public async Task Track(Func<Task> next)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            await next().ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            if (Volatile.Read(ref _stopping) == 1)
            {
                Interlocked.Increment(ref _finishedWhileStopping);
            }
        }
    }

    public void Stopping()
    {
        Volatile.Write(ref _stopping, 1);
        var count = InFlight;
        log($"stopping: new requests are refused; {count} request{(count == 1 ? "" : "s")} in flight finish first");
    }

    public void Stopped()
    {
        var count = Volatile.Read(ref _finishedWhileStopping);
        log($"stopped: {count} request{(count == 1 ? "" : "s")} finished during the drain");
    }
}
