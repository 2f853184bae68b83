namespace Pipeline.Serving.Http;

/// <summary>How a <see cref="PredictionServer"/> listens and what it accepts.</summary>
/// <param name="Name">The model name in URLs: /v1/models/NAME:predict.</param>
/// <param name="Host">The address to listen on; loopback unless a person chooses otherwise.</param>
/// <param name="Port">0 picks a free port (tests).</param>
public sealed record ServerOptions(string Name, string Host = "127.0.0.1", int Port = 8501)
{
    /// <summary>Images per request; more is a 400.</summary>
    public int MaxInstances { get; init; } = 64;

    /// <summary>Request bodies larger than this are refused with 413.</summary>
    public long MaxBodyBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Decoded bytes of one image file.</summary>
    public long MaxImageBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>Width × height of one image, checked from its header before it is decoded.</summary>
    public long MaxImagePixels { get; init; } = 25_000_000;

    /// <summary>Requests decoded and predicted at once; one per core keeps the cores busy without piling up memory.</summary>
    public int MaxConcurrentRequests { get; init; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>Requests waiting for a turn; beyond them a request gets 503 at once.</summary>
    public int MaxQueuedRequests { get; init; } = 256;
}
