namespace Pipeline.Serving.Http;

/// <summary>How a <see cref="PredictionServer"/> listens and what it accepts.</summary>
/// <param name="Name">The model name in URLs: /v1/models/NAME:predict.</param>
/// <param name="Host">The address to listen on; loopback unless a person chooses otherwise.</param>
/// <param name="Port">0 picks a free port (tests).</param>
public sealed record ServerOptions(string Name, string Host = "127.0.0.1", int Port = 8501)
{
    /// <summary>The gRPC port (TF Serving's PredictionService and ModelService; 0 picks a free one), or null for none.</summary>
    public int? GrpcPort { get; init; }

    /// <summary>Images per request; more is a 400.</summary>
    public int MaxInstances { get; init; } = 64;

    /// <summary>Request bodies larger than this are refused with 413.</summary>
    public long MaxBodyBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Decoded bytes of one image file.</summary>
    public long MaxImageBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>Width × height of one image, checked from its header before it is decoded.</summary>
    public long MaxImagePixels { get; init; } = 25_000_000;

    /// <summary>
    /// Width × height summed over a request's images, from their headers before any is decoded; more is a 400 naming
    /// the instance that passes it. A few kilobytes of JPEG or PNG can decode to 25 megapixels, so the body limit
    /// alone lets one request cost seconds of decoding. Two images of the largest size.
    /// </summary>
    public long MaxRequestPixels { get; init; } = 50_000_000;

    /// <summary>
    /// Requests of at most this many pixels decode at once whatever else is decoding: they take milliseconds. Larger
    /// ones take turns, at most <see cref="MaxRequestPixels"/> pixels being decoded at a time, so a flood of large
    /// images waits in line instead of holding gigabytes, and small requests are not stuck behind it.
    /// </summary>
    public long SmallRequestPixels { get; init; } = 1_000_000;

    /// <summary>
    /// Predict requests read, decoded and predicted at once (/healthz and the GET endpoints are not counted). Each holds
    /// its body and images, so this bounds their memory; twice the cores, at least 4, leaves room for small requests
    /// while large ones wait their turn to decode.
    /// </summary>
    public int MaxConcurrentRequests { get; init; } = Math.Max(4, 2 * Environment.ProcessorCount);

    /// <summary>
    /// Large requests (over <see cref="SmallRequestPixels"/>) in flight at once, decoding or waiting for their turn: each
    /// holds a predict slot meanwhile, so one slot less than <see cref="MaxConcurrentRequests"/> (at least one) keeps
    /// a slot free for small requests. Beyond it a large request gets 503 at once.
    /// </summary>
    public int MaxLargeRequests => Math.Max(1, MaxConcurrentRequests - 1);

    /// <summary>Requests waiting for a turn; beyond them a request gets 503 at once.</summary>
    public int MaxQueuedRequests { get; init; } = 256;
}
