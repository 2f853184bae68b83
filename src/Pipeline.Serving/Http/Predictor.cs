using System.Threading.RateLimiting;
using Pipeline.Serving.Prediction;
using Pipeline.Serving.Versions;

namespace Pipeline.Serving.Http;

/// <summary>
/// What a predict request goes through whichever protocol brought it (REST or gRPC): the version it names is leased,
/// its images' pixels are counted from their headers against the request's budget, a large request takes its turn
/// to decode (see <see cref="ServerOptions.SmallRequestPixels"/>), and the model answers. Client mistakes and busy
/// moments are <see cref="BadRequestException"/>s with the status REST answers; gRPC maps them to its codes.
/// </summary>
internal sealed class Predictor : IDisposable
{
    private readonly ModelVersions _versions;
    private readonly ServerOptions _options;
    private readonly ServerMetrics _metrics;
    private readonly ConcurrencyLimiter _decoding;

    /// <summary>Large requests in flight: decoding, or waiting for their turn while they hold a predict slot.</summary>
    private int _largeRequests;

    public Predictor(ModelVersions versions, ServerOptions options, ServerMetrics metrics)
    {
        _versions = versions;
        _options = options;
        _metrics = metrics;
        _decoding = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = DecodingPermits(options.MaxRequestPixels),
            // Counted in permits, not requests: at a thousand pixels a permit, int.MaxValue holds 42,000 requests of
            // 50 megapixels, far more than MaxConcurrentRequests lets wait (a permit a pixel held only 42).
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    public ModelVersions Versions => _versions;

    public ServerOptions Options => _options;

    /// <summary>The version a request names (by number, by label, or neither: the highest available), held until the lease is disposed.</summary>
    /// <exception cref="BadRequestException">Another model, or a version or label not served now: 404, or 503 while it loads.</exception>
    public VersionLease Lease(string name, int? version, string? label)
    {
        if (name != _options.Name)
        {
            throw new BadRequestException($"no model named \"{name}\"; this server serves \"{_options.Name}\"", 404);
        }
        try
        {
            return _versions.Lease(version, label);
        }
        catch (VersionUnavailableException e)
        {
            throw new BadRequestException($"{_options.Name}: {e.Message}", e.Transient ? 503 : 404);
        }
    }

    /// <summary>Predicts the instances on the leased version, within the request limits.</summary>
    /// <exception cref="BadRequestException">Over the pixel budget (400), or too many large requests at once (503).</exception>
    /// <exception cref="Core.Images.BadImageException">An image cannot be decoded; the message names it.</exception>
    public async Task<IReadOnlyList<Prediction.Prediction>> PredictAsync(VersionLease lease, IReadOnlyList<ModelInput> instances, CancellationToken cancellation)
    {
        var pixels = RequestPixels(lease.Classifier, instances);
        var large = pixels > _options.SmallRequestPixels;
        // A large request holds its predict slot while it waits to decode: one slot at least stays for small ones.
        if (large && Interlocked.Increment(ref _largeRequests) > _options.MaxLargeRequests)
        {
            Interlocked.Decrement(ref _largeRequests);
            throw new BadRequestException($"the server is busy decoding large requests ({_options.MaxLargeRequests} in progress); retry shortly", 503);
        }
        try
        {
            using var turn = large ? await _decoding.AcquireAsync(DecodingPermits(pixels), cancellation).ConfigureAwait(false) : null;
            if (turn is { IsAcquired: false })
            {
                throw new BadRequestException("the server is busy decoding large requests; retry shortly", 503);
            }
            var predictions = lease.Classifier.Predict(instances, _options.MaxImagePixels);
            _metrics.Predicted(_options.Name, lease.Version, predictions.Count);
            return predictions;
        }
        finally
        {
            if (large)
            {
                Interlocked.Decrement(ref _largeRequests);
            }
        }
    }

    /// <summary>The pixels the request's images decode to, from their headers; over the budget is the client's mistake.</summary>
    private long RequestPixels(OnnxClassifier classifier, IReadOnlyList<ModelInput> instances)
    {
        var each = classifier.HeaderPixels(instances, _options.MaxImagePixels);
        long total = 0;
        for (var i = 0; i < each.Length; i++)
        {
            total += each[i];
            if (total > _options.MaxRequestPixels)
            {
                throw new BadRequestException($"{instances[i].Name}: with it the request's images hold {total:N0} pixels, more than the {_options.MaxRequestPixels:N0} "
                    + "allowed per request (width × height summed from their headers); send fewer or smaller images per request");
            }
        }
        return total;
    }

    /// <summary>The decoding turn's permits for this many pixels: one per thousand, rounded up.</summary>
    private static int DecodingPermits(long pixels) => (int)Math.Clamp((pixels + 999) / 1000, 1, int.MaxValue);

    public void Dispose() => _decoding.Dispose();
}
