using System.Net;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Core.Images;
using Pipeline.Serving.Prediction;
using Pipeline.Serving.Versions;

namespace Pipeline.Serving.Http;

/// <summary>
/// The REST prediction server, in TensorFlow Serving's conventions: POST /v1/models/NAME:predict (and :classify), GET
/// /v1/models/NAME (each version's state), GET /v1/models/NAME/metadata (signature_def and the model card), each also
/// under /versions/N and /labels/L; GET /healthz and GET /monitoring/prometheus/metrics (<see cref="ServerMetrics"/>).
/// The versions come from <see cref="ModelVersions"/>, which loads new ones while the server runs. Client mistakes get
/// a 4xx with {"error": "..."} that says what is wrong; only a fault of the server itself is a 500.
/// </summary>
public sealed class PredictionServer : IAsyncDisposable
{
    /// <summary>The rate-limiting policy of predictions (REST :predict and :classify, gRPC Predict and Classify).</summary>
    internal const string PredictPolicy = "predict";

    private readonly WebApplication _app;
    private readonly Predictor _predictor;

    private readonly Drain _drain;
    private readonly ModelVersions? _ownedVersions;
    private int _disposed;

    private PredictionServer(WebApplication app, Predictor predictor, Drain drain, Uri address, ModelVersions? ownedVersions)
    {
        _app = app;
        _drain = drain;
        _predictor = predictor;
        _ownedVersions = ownedVersions;
        Address = address;
    }

    /// <summary>The address it listens on, with the real port when 0 was asked for.</summary>
    public Uri Address { get; }

    /// <summary>The gRPC address (HTTP/2 without TLS), or null when <see cref="ServerOptions.GrpcPort"/> is null.</summary>
    public Uri? GrpcAddress { get; private init; }

    private static void Listen(KestrelServerOptions kestrel, string host, int port, HttpProtocols protocols)
    {
        if (host is "localhost")
        {
            kestrel.ListenLocalhost(port, listen => listen.Protocols = protocols);
        }
        else
        {
            kestrel.Listen(IPAddress.Parse(host), port, listen => listen.Protocols = protocols);
        }
    }

    /// <summary>Serves one version the caller loaded (and keeps owning).</summary>
    public static Task<PredictionServer> StartAsync(OnnxClassifier classifier, ServerOptions options, Action<string>? log = null) =>
        StartAsync(ModelVersions.Single(classifier), options, log, ownsVersions: true);

    /// <summary>Serves the versions, and starts their polling; <paramref name="versions"/> stays the caller's to dispose after the server.</summary>
    public static Task<PredictionServer> StartAsync(ModelVersions versions, ServerOptions options, Action<string>? log = null) =>
        StartAsync(versions, options, log, ownsVersions: false);

    private static async Task<PredictionServer> StartAsync(ModelVersions versions, ServerOptions options, Action<string>? log, bool ownsVersions)
    {
        ArgumentNullException.ThrowIfNull(versions);
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            kestrel.AddServerHeader = false;
            Listen(kestrel, options.Host, options.Port, HttpProtocols.Http1AndHttp2);
            if (options.GrpcPort is { } grpcPort)
            {
                // gRPC is HTTP/2; without TLS a port speaks one protocol, so gRPC has its own, as TF Serving's 8500.
                Listen(kestrel, options.Host, grpcPort, HttpProtocols.Http2);
            }
        });
        var metrics = new ServerMetrics();
        var predictor = new Predictor(versions, options, metrics);
        var logLine = log ?? (_ => { });
        builder.Services.AddSingleton(predictor);
        builder.Services.AddSingleton(logLine);
        builder.Services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = (int)Math.Min(options.MaxBodyBytes, int.MaxValue);
            grpc.MaxSendMessageSize = null;
        });
        // At most MaxConcurrentRequests predict requests are read, decoded and predicted at once, a bounded queue waits,
        // the rest get 503 at once: each holds its body, the decoded images and their tensors, so an unbounded number
        // would be unbounded memory. Only predict: /healthz and the GET endpoints must answer while predictions queue.
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.AddConcurrencyLimiter(PredictPolicy, limit =>
            {
                limit.PermitLimit = options.MaxConcurrentRequests;
                limit.QueueLimit = options.MaxQueuedRequests;
            });
            limiter.OnRejected = async (context, cancellation) =>
            {
                context.HttpContext.Response.StatusCode = 503;
                await context.HttpContext.Response.WriteAsJsonAsync(
                    new JsonObject { ["error"] = $"the server is busy ({options.MaxConcurrentRequests} requests running, {options.MaxQueuedRequests} waiting); retry shortly" },
                    cancellation).ConfigureAwait(false);
            };
        });
        var app = builder.Build();
        // What loaded (or failed) before the server started; later loads are counted as they happen.
        foreach (var status in versions.Statuses().Where(s => s.State is "AVAILABLE" || s.Error is not null))
        {
            metrics.Loaded(options.Name, status.Version, ok: status.Error is null);
        }
        versions.OnLoaded = (version, ok) => metrics.Loaded(options.Name, version, ok);
        // First, so that the rate limiter's 503s and the fallback's 404s are counted as well.
        app.Use((context, next) => metrics.Observe(context, () => next(context), options.Name));
        // The host stops on Ctrl+C and SIGTERM (docker stop, systemd) by refusing new connections and finishing the
        // requests in flight; the drain says how many, in the log.
        var drain = new Drain(logLine);
        app.Use((context, next) => drain.Track(() => next(context)));
        app.Lifetime.ApplicationStopping.Register(drain.Stopping);
        app.Lifetime.ApplicationStopped.Register(drain.Stopped);
        app.UseRateLimiter();
        var handler = new RequestHandler(predictor, logLine);
        // HEAD as GET (Kestrel sends the headers and drops the body): load balancers and monitors probe with it.
        string[] read = [HttpMethods.Get, HttpMethods.Head];
        app.MapPost("/v1/models/{target}", (HttpContext context, string target) => handler.PredictAsync(context, target, default))
            .RequireRateLimiting(PredictPolicy);
        app.MapMethods("/v1/models/{name}", read, (HttpContext context, string name) => handler.Status(context, name, default));
        app.MapMethods("/v1/models/{name}/metadata", read, (string name) => handler.Metadata(name, default));
        // A version pinned by number, or by a label such as "stable" (ModelVersions' labels file), as TF Serving's clients do.
        app.MapPost("/v1/models/{name}/versions/{target}", (HttpContext context, string name, string target) => handler.PinnedPredictAsync(context, name, target, label: false))
            .RequireRateLimiting(PredictPolicy);
        app.MapPost("/v1/models/{name}/labels/{target}", (HttpContext context, string name, string target) => handler.PinnedPredictAsync(context, name, target, label: true))
            .RequireRateLimiting(PredictPolicy);
        app.MapMethods("/v1/models/{name}/versions/{version}", read, (HttpContext context, string name, string version) => handler.Status(context, name, new Selector(version, null)));
        app.MapMethods("/v1/models/{name}/labels/{label}", read, (HttpContext context, string name, string label) => handler.Status(context, name, new Selector(null, label)));
        app.MapMethods("/v1/models/{name}/versions/{version}/metadata", read, (string name, string version) => handler.Metadata(name, new Selector(version, null)));
        app.MapMethods("/v1/models/{name}/labels/{label}/metadata", read, (string name, string label) => handler.Metadata(name, new Selector(null, label)));
        app.MapMethods("/v1/models/{name}/labels", read, handler.Labels);
        // Predict and Classify are limited by their attribute; GetModelMetadata, like REST's GET endpoints, is not.
        app.MapGrpcService<Grpc.GrpcPredictionService>();
        app.MapGrpcService<Grpc.GrpcModelService>();
        app.MapMethods("/healthz", read, () => Results.Json(new JsonObject { ["status"] = "ok" }));
        app.MapMethods(ServerMetrics.Path, read, metrics.Write);
        // "{*path}", not MapFallback's default "{*path:nonfile}": /favicon.ico deserves the same JSON 404 as any unknown path.
        // Routing would answer a known path with the wrong method 405, but the fallback matches every method first.
        app.MapFallback("{*path}", handler.Unmatched);
        await app.StartAsync().ConfigureAwait(false);
        versions.StartPolling();
        // In the order they were listened on: REST, then gRPC.
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a.Replace("[::]", "127.0.0.1", StringComparison.Ordinal))).ToList();
        return new PredictionServer(app, predictor, drain, addresses[0], ownsVersions ? versions : null)
        {
            GrpcAddress = options.GrpcPort is null ? null : addresses[1],
        };
    }

    /// <summary>Requests being answered now.</summary>
    internal int InFlight => _drain.InFlight;

    /// <summary>Completes when the server stops (Ctrl+C or <see cref="DisposeAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellation = default) => _app.WaitForShutdownAsync(cancellation);

    /// <summary>Stops as on SIGTERM (the requests in flight finish first), then frees the server; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _predictor.Dispose();
        _ownedVersions?.Dispose();
    }

    internal static IResult Error(int status, string message) =>
        Results.Json(new JsonObject { ["error"] = message }, statusCode: status);

    /// <summary>Which version a path names: by number (/versions/N), by label (/labels/L), or neither (the highest available).</summary>
    private readonly record struct Selector(string? Version, string? Label);

    private sealed class RequestHandler
    {
        private const string PredictSuffix = ":predict";
        private const string ClassifySuffix = ":classify";

        private readonly Predictor _predictor;
        private readonly ModelVersions _versions;
        private readonly ServerOptions _options;
        private readonly Action<string> _log;

        public RequestHandler(Predictor predictor, Action<string> log)
        {
            _predictor = predictor;
            _versions = predictor.Versions;
            _options = predictor.Options;
            _log = log;
        }

        private string Models => $"/v1/models/{_options.Name}";

        /// <summary>POST /v1/models/NAME/versions/N:predict or /labels/L:predict (or :classify).</summary>
        public Task<IResult> PinnedPredictAsync(HttpContext context, string name, string target, bool label)
        {
            var colon = target.LastIndexOf(':');
            if (colon < 0)
            {
                return Task.FromResult(AllowedMethods(context.Request.Path) is not null ? MethodNotAllowed(context)
                    : Error(404, $"POST {context.Request.Path} is not an endpoint; predict with POST {Models}/{(label ? "labels/LABEL" : "versions/N")}:predict"));
            }
            var selector = label ? new Selector(null, target[..colon]) : new Selector(target[..colon], null);
            return PredictAsync(context, name + target[colon..], selector);
        }

        public async Task<IResult> PredictAsync(HttpContext context, string target, Selector selector)
        {
            var classify = target.EndsWith(ClassifySuffix, StringComparison.Ordinal);
            if (!classify && !target.EndsWith(PredictSuffix, StringComparison.Ordinal))
            {
                return target == _options.Name
                    ? MethodNotAllowed(context)
                    : Error(404, $"POST /v1/models/{target} is not an endpoint; predict with POST {Models}:predict (or :classify)");
            }
            try
            {
                // The version first: a request for one not served is a 404 (or a 503 while it loads) whatever its body.
                // It is leased only once the body is in, so a slow client cannot keep a removed version loaded.
                var name = target[..target.LastIndexOf(':')];
                Lease(name, selector).Dispose();
                var body = await ReadBodyAsync(context.Request).ConfigureAwait(false);
                using var lease = Lease(name, selector);
                context.Items[ServerMetrics.VersionItem] = lease.Version;
                var request = PredictRequest.Read(body, _options.MaxInstances, _options.MaxImageBytes, classify ? "examples" : "instances", lease.Classifier.Card.Input);
                var predictions = await _predictor.PredictAsync(lease, request.Instances, context.RequestAborted).ConfigureAwait(false);
                return Answer(lease.Classifier.Card, request, predictions, classify);
            }
            catch (BadRequestException e)
            {
                return Error(e.Status, e.Message);
            }
            catch (BadImageException e)
            {
                return Error(400, e.Message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _log($"error: {e}");
                return Error(500, $"internal error: {e.Message}");
            }
        }

        private static IResult Answer(Export.ModelCard card, PredictRequest.Parsed request, IReadOnlyList<Prediction.Prediction> predictions, bool classify)
        {
            if (classify)
            {
                // TF Serving's classify result: per example, every class with its score, the likeliest first.
                return Results.Json(new JsonObject
                {
                    ["result"] = new JsonArray([.. predictions.Select(p => (JsonNode)new JsonArray([.. p.Probabilities
                        .Select((score, id) => (Score: score, Label: card.Classes[id]))
                        .OrderByDescending(c => c.Score)
                        .Select(c => (JsonNode)new JsonArray(c.Label, JsonValue.Create(c.Score)))]))]),
                });
            }
            JsonNode? Key(int i) => request.Keys[i] is { } key ? JsonNode.Parse(key.GetRawText()) : null;
            if (request.Columnar)
            {
                var outputs = new JsonObject
                {
                    ["classes"] = new JsonArray([.. predictions.Select(p => JsonValue.Create(p.ClassId))]),
                    ["label"] = new JsonArray([.. predictions.Select(p => JsonValue.Create(p.Label))]),
                    ["probabilities"] = new JsonArray([.. predictions.Select(p => (JsonNode)new JsonArray([.. p.Probabilities.Select(v => JsonValue.Create(v))]))]),
                };
                if (request.Keys.Any(k => k is not null))
                {
                    outputs["key"] = new JsonArray([.. predictions.Select((_, i) => Key(i))]);
                }
                return Results.Json(new JsonObject { ["outputs"] = outputs });
            }
            return Results.Json(new JsonObject
            {
                ["predictions"] = new JsonArray([.. predictions.Select((p, i) =>
                {
                    var row = new JsonObject
                    {
                        ["classes"] = p.ClassId,
                        ["label"] = p.Label,
                        ["probabilities"] = new JsonArray([.. p.Probabilities.Select(v => JsonValue.Create(v))]),
                    };
                    if (Key(i) is { } key)
                    {
                        row["key"] = key;
                    }
                    return (JsonNode)row;
                })]),
            });
        }

        /// <summary>The version a request names, held until the lease is disposed.</summary>
        /// <exception cref="BadRequestException">Another model, or a version or label not served now: 404, or 503 while it loads.</exception>
        private VersionLease Lease(string name, Selector selector) => _predictor.Lease(name, VersionNumber(selector), selector.Label);

        private static int? VersionNumber(Selector selector) => selector.Version switch
        {
            null => null,
            var text when int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) && number > 0 => number,
            var text => throw new BadRequestException($"\"{text}\" is not a version number (1, 2, …)", 404),
        };

        /// <summary>
        /// TF Serving's GetModelStatus: every version this server knows of (available, loading, unloading, and failed as
        /// END with its error), or the one a path names.
        /// </summary>
        public IResult Status(HttpContext context, string name, Selector selector)
        {
            if (name != _options.Name)
            {
                return name == _options.Name + PredictSuffix || name == _options.Name + ClassifySuffix ? MethodNotAllowed(context)
                    : Error(404, $"no model named \"{name}\"; this server serves \"{_options.Name}\"");
            }
            IEnumerable<VersionStatus> statuses = _versions.Statuses();
            try
            {
                if (selector.Label is { } label)
                {
                    var (labels, _) = _versions.Labels();
                    if (!labels.TryGetValue(label, out var labelled))
                    {
                        return Error(404, $"{_options.Name}: no version is labelled \"{label}\"");
                    }
                    statuses = [statuses.FirstOrDefault(s => s.Version == labelled) ?? new VersionStatus(labelled, "END", $"version {labelled} is not in the export folder")];
                }
                else if (VersionNumber(selector) is { } number)
                {
                    statuses = statuses.Where(s => s.Version == number).ToList();
                    if (!statuses.Any())
                    {
                        return Error(404, $"{_options.Name}: version {number} is unknown; versions: {string.Join(", ", _versions.Statuses().Select(s => $"{s.Version} ({s.State})"))}");
                    }
                }
            }
            catch (BadRequestException e)
            {
                return Error(e.Status, e.Message);
            }
            return Results.Json(new JsonObject
            {
                ["model_version_status"] = new JsonArray([.. statuses.Select(s => (JsonNode)new JsonObject
                {
                    ["version"] = s.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["state"] = s.State,
                    ["status"] = new JsonObject { ["error_code"] = s.Error is null ? "OK" : "INVALID_ARGUMENT", ["error_message"] = s.Error ?? "" },
                })]),
            });
        }

        /// <summary>GET /v1/models/NAME/labels: the version labels and the versions they name (ours; TF Serving has no such endpoint).</summary>
        public IResult Labels(string name)
        {
            if (name != _options.Name)
            {
                return Error(404, $"no model named \"{name}\"; this server serves \"{_options.Name}\"");
            }
            var (labels, error) = _versions.Labels();
            var json = new JsonObject
            {
                ["labels"] = new JsonObject([.. labels.OrderBy(l => l.Key, StringComparer.Ordinal)
                    .Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)))]),
            };
            if (error is not null)
            {
                json["error"] = error;
            }
            return Results.Json(json);
        }

        /// <summary>
        /// TF Serving's GetModelMetadata answer: the model spec and the serving_default signature_def (the inputs'
        /// and outputs' dtypes and shapes, -1 for the batch), and beside it our model card.
        /// </summary>
        public IResult Metadata(string name, Selector selector)
        {
            try
            {
                using var lease = Lease(name, selector);
                var card = lease.Classifier.Card;
                return Results.Json(new JsonObject
                {
                    ["model_spec"] = new JsonObject
                    {
                        ["name"] = _options.Name,
                        ["signature_name"] = "",
                        ["version"] = lease.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    },
                    ["metadata"] = new JsonObject
                    {
                        ["signature_def"] = JsonNode.Parse(Grpc.ServingSignature.Json(card)),
                        ["model_card"] = card.ToJson(),
                    },
                });
            }
            catch (BadRequestException e)
            {
                return Error(e.Status, e.Message);
            }
        }

        /// <summary>An unknown path is a 404; a known one asked with a method it does not take is a 405 saying which it takes.</summary>
        public IResult Unmatched(HttpContext context) => AllowedMethods(context.Request.Path) is not null
            ? MethodNotAllowed(context)
            : Error(404, $"no endpoint {context.Request.Method} {context.Request.Path}; use POST {Models}:predict (or /versions/N:predict, /labels/LABEL:predict), "
                + $"GET {Models}, GET /healthz");

        private IResult MethodNotAllowed(HttpContext context)
        {
            var allowed = AllowedMethods(context.Request.Path)!;
            context.Response.Headers.Allow = string.Join(", ", allowed);
            return Error(405, $"{context.Request.Method} is not allowed on {context.Request.Path}; use {string.Join(" or ", allowed)}");
        }

        /// <summary>The methods the server answers on a path, or null when it has no such endpoint; the routes above, as a client sees them.</summary>
        private string[]? AllowedMethods(PathString path)
        {
            string[] read = [HttpMethods.Get, HttpMethods.Head];
            var value = path.Value ?? "";
            if (value is "/healthz" or ServerMetrics.Path)
            {
                return read;
            }
            if (!value.StartsWith(Models, StringComparison.Ordinal))
            {
                return null;
            }
            var rest = value[Models.Length..];
            if (rest == "/labels")
            {
                return read;
            }
            // /versions/N and /labels/L name a version; what follows them is what follows the model's own path.
            foreach (var pin in new[] { "/versions/", "/labels/" })
            {
                if (rest.StartsWith(pin, StringComparison.Ordinal))
                {
                    var end = rest.IndexOfAny([':', '/'], pin.Length);
                    if (end == pin.Length)
                    {
                        return null;
                    }
                    rest = end < 0 ? "" : rest[end..];
                    break;
                }
            }
            return rest switch
            {
                "" or "/metadata" => read,
                PredictSuffix or ClassifySuffix => [HttpMethods.Post],
                _ => null,
            };
        }

        /// <summary>The whole body, refused with 413 past the limit whether or not the client declared its length.</summary>
        private async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request)
        {
            if (request.ContentLength > _options.MaxBodyBytes)
            {
                throw new BadRequestException($"the body is {request.ContentLength:N0} bytes, more than the {_options.MaxBodyBytes:N0} allowed", 413);
            }
            using var buffer = new MemoryStream();
            try
            {
                await request.Body.CopyToAsync(buffer).ConfigureAwait(false);
            }
            catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == 413)
            {
                throw new BadRequestException($"the body is more than the {_options.MaxBodyBytes:N0} bytes allowed", 413);
            }
            catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
            {
                // A malformed chunked body, a client too slow to send it: the client's fault, said as Kestrel says it.
                throw new BadRequestException($"the body could not be read: {e.Message}", e.StatusCode);
            }
            return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        }
    }
}
