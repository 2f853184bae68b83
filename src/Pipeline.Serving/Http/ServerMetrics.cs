using Microsoft.AspNetCore.Http;
using Prometheus;

namespace Pipeline.Serving.Http;

/// <summary>
/// The server's Prometheus metrics, served at /monitoring/prometheus/metrics as TensorFlow Serving serves its own:
/// requests by model, version, endpoint and status code, their latency, and model load events. Each server has its
/// own registry, so two servers in one process (the tests) count apart.
/// </summary>
public sealed class ServerMetrics
{
    public const string Path = "/monitoring/prometheus/metrics";

    /// <summary>The HttpContext item in which the endpoint leaves the version that answered; requests no one version answers count under "".</summary>
    public const string VersionItem = "pipeline.version";

    private readonly Counter _requests;
    private readonly Histogram _latency;
    private readonly Counter _loads;
    private readonly Counter _instances;

    public ServerMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _requests = factory.CreateCounter("pipeline_requests_total", "Requests answered, by model, version, endpoint and HTTP status code.",
            ["model", "version", "endpoint", "code"]);
        _latency = factory.CreateHistogram("pipeline_request_duration_seconds", "Time from the request's arrival to its answer, by model, version and endpoint.",
            new HistogramConfiguration
            {
                LabelNames = ["model", "version", "endpoint"],
                // From a tenth of a millisecond (a status request) to ten seconds (a request that waited for its turn to decode).
                Buckets = Histogram.ExponentialBuckets(0.0001, 2.5, 12),
            });
        _loads = factory.CreateCounter("pipeline_model_loads_total", "Model versions loaded (result \"ok\") or refused (\"error\"), by model and version.",
            ["model", "version", "result"]);
        _instances = factory.CreateCounter("pipeline_predicted_instances_total", "Instances predicted, by model and version.", ["model", "version"]);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>A model version loaded, or refused.</summary>
    public void Loaded(string model, int version, bool ok) => _loads.WithLabels(model, Text(version), ok ? "ok" : "error").Inc();

    public void Predicted(string model, int version, int instances) => _instances.WithLabels(model, Text(version)).Inc(instances);

    /// <summary>Counts and times every request, whatever answers it (an endpoint, the rate limiter's 503, the fallback's 404).</summary>
    public async Task Observe(HttpContext context, Func<Task> next, string model)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await next().ConfigureAwait(false);
        }
        finally
        {
            var endpoint = Endpoint(context.Request.Path, model);
            var version = context.Items.TryGetValue(VersionItem, out var answered) && answered is int number ? Text(number) : "";
            _requests.WithLabels(model, version, endpoint, Code(context)).Inc();
            _latency.WithLabels(model, version, endpoint).Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>The exposition text, as Prometheus scrapes it.</summary>
    public async Task Write(HttpContext context)
    {
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// The HTTP status code, or for a gRPC call (always HTTP 200) its gRPC status code, "grpc-5", from the trailers or,
    /// for an error answered before any message, the headers.
    /// </summary>
    private static string Code(HttpContext context)
    {
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true && context.Response.StatusCode == 200)
        {
            var trailers = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseTrailersFeature>()?.Trailers;
            var status = trailers is not null && trailers.TryGetValue("grpc-status", out var trailer) ? trailer.ToString()
                : context.Response.Headers.TryGetValue("grpc-status", out var header) ? header.ToString() : "";
            return $"grpc-{(status.Length == 0 ? "unknown" : status)}";
        }
        return context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Text(int version) => version.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A bounded label for the path, never the path itself (a scan of random paths must not make a series each).</summary>
    private static string Endpoint(PathString path, string model)
    {
        var models = $"/v1/models/{model}";
        var value = path.Value ?? "";
        // A version named in the path, by number or label, counts under the same endpoint as without it.
        foreach (var pin in new[] { "/versions/", "/labels/" })
        {
            if (value.StartsWith(models + pin, StringComparison.Ordinal))
            {
                var rest = value[(models.Length + pin.Length)..];
                var cut = rest.IndexOfAny([':', '/']);
                value = cut < 0 ? models : models + rest[cut..];
            }
        }
        return value switch
        {
            var p when p == models + ":predict" => "predict",
            var p when p == models + ":classify" => "classify",
            var p when p == models => "status",
            var p when p == models + "/metadata" => "metadata",
            "/healthz" => "healthz",
            "/tensorflow.serving.PredictionService/Predict" => "grpc_predict",
            "/tensorflow.serving.PredictionService/Classify" => "grpc_classify",
            "/tensorflow.serving.PredictionService/GetModelMetadata" => "grpc_metadata",
            "/tensorflow.serving.ModelService/GetModelStatus" => "grpc_status",
            Path => "metrics",
            _ => "other",
        };
    }
}
