using System.Net;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Core.Images;
using Pipeline.Serving.Prediction;

namespace Pipeline.Serving.Http;

/// <summary>
/// The REST prediction server, in TensorFlow Serving's conventions: POST /v1/models/NAME:predict, GET /v1/models/NAME
/// (version and state), GET /v1/models/NAME/metadata (the model card), GET /healthz and GET
/// /monitoring/prometheus/metrics (<see cref="ServerMetrics"/>). Client mistakes get a 4xx with
/// {"error": "..."} that says what is wrong; only a fault of the server itself is a 500.
/// </summary>
public sealed class PredictionServer : IAsyncDisposable
{
    private const string PredictPolicy = "predict";

    private readonly WebApplication _app;
    private readonly ConcurrencyLimiter _decoding;

    private readonly Drain _drain;
    private int _disposed;

    private PredictionServer(WebApplication app, ConcurrencyLimiter decoding, Drain drain, Uri address)
    {
        _app = app;
        _drain = drain;
        _decoding = decoding;
        Address = address;
    }

    /// <summary>The address it listens on, with the real port when 0 was asked for.</summary>
    public Uri Address { get; }

    public static async Task<PredictionServer> StartAsync(OnnxClassifier classifier, ServerOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            kestrel.AddServerHeader = false;
            if (options.Host is "localhost")
            {
                kestrel.ListenLocalhost(options.Port);
            }
            else
            {
                kestrel.Listen(IPAddress.Parse(options.Host), options.Port);
            }
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
        var metrics = new ServerMetrics();
        var version = classifier.Model.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        metrics.Loaded(options.Name, version, ok: true);
        // First, so that the rate limiter's 503s and the fallback's 404s are counted as well.
        app.Use((context, next) => metrics.Observe(context, () => next(context), options.Name, version));
        // The host stops on Ctrl+C and SIGTERM (docker stop, systemd) by refusing new connections and finishing the
        // requests in flight; the drain says how many, in the log.
        var drain = new Drain(log ?? (_ => { }));
        app.Use((context, next) => drain.Track(() => next(context)));
        app.Lifetime.ApplicationStopping.Register(drain.Stopping);
        app.Lifetime.ApplicationStopped.Register(drain.Stopped);
        app.UseRateLimiter();
        // Large requests take turns decoding, by pixels: see ServerOptions.SmallRequestPixels.
        var decoding = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = DecodingPermits(options.MaxRequestPixels),
            // Counted in permits, not requests: at a thousand pixels a permit, int.MaxValue holds 42,000 requests of
            // 50 megapixels, far more than MaxConcurrentRequests lets wait (a permit a pixel held only 42).
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        var handler = new RequestHandler(classifier, options, decoding, log ?? (_ => { }), metrics);
        // HEAD as GET (Kestrel sends the headers and drops the body): load balancers and monitors probe with it.
        string[] read = [HttpMethods.Get, HttpMethods.Head];
        app.MapPost("/v1/models/{target}", handler.PredictAsync).RequireRateLimiting(PredictPolicy);
        app.MapMethods("/v1/models/{name}", read, handler.Status);
        app.MapMethods("/v1/models/{name}/metadata", read, handler.Metadata);
        // A version named in the path, as TF Serving's clients pin one: the served version answers, any other is a 404.
        app.MapPost("/v1/models/{name}/versions/{target}", handler.VersionPredictAsync).RequireRateLimiting(PredictPolicy);
        app.MapMethods("/v1/models/{name}/versions/{version}", read, handler.VersionStatus);
        app.MapMethods("/v1/models/{name}/versions/{version}/metadata", read, handler.VersionMetadata);
        app.MapMethods("/healthz", read, () => Results.Json(new JsonObject { ["status"] = "ok" }));
        app.MapMethods(ServerMetrics.Path, read, metrics.Write);
        // "{*path}", not MapFallback's default "{*path:nonfile}": /favicon.ico deserves the same JSON 404 as any unknown path.
        // Routing would answer a known path with the wrong method 405, but the fallback matches every method first.
        app.MapFallback("{*path}", handler.Unmatched);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new PredictionServer(app, decoding, drain, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)));
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
        _decoding.Dispose();
    }

    /// <summary>Permits of the decoding limiter, one per pixel: a request's own budget, within an int.</summary>
    /// <summary>The decoding turn's permits for this many pixels: one per thousand, rounded up.</summary>
    private static int DecodingPermits(long pixels) => (int)Math.Clamp((pixels + 999) / 1000, 1, int.MaxValue);

    internal static IResult Error(int status, string message) =>
        Results.Json(new JsonObject { ["error"] = message }, statusCode: status);

    private sealed class RequestHandler
    {
        private const string PredictSuffix = ":predict";
        private const string ClassifySuffix = ":classify";

        private readonly OnnxClassifier _classifier;
        private readonly ServerOptions _options;
        private readonly ConcurrencyLimiter _decoding;
        private readonly Action<string> _log;

        /// <summary>Large requests in flight: decoding, or waiting for their turn while they hold a predict slot.</summary>
        private int _largeRequests;

        private readonly ServerMetrics _metrics;

        public RequestHandler(OnnxClassifier classifier, ServerOptions options, ConcurrencyLimiter decoding, Action<string> log, ServerMetrics metrics)
        {
            _metrics = metrics;
            _classifier = classifier;
            _options = options;
            _decoding = decoding;
            _log = log;
        }

        /// <summary>POST /v1/models/NAME/versions/N:predict (or :classify).</summary>
        public Task<IResult> VersionPredictAsync(HttpContext context, string name, string target)
        {
            var colon = target.LastIndexOf(':');
            if (colon < 0)
            {
                return Task.FromResult(AllowedMethods(context.Request.Path) is not null ? MethodNotAllowed(context)
                    : Error(404, $"POST {context.Request.Path} is not an endpoint; predict with POST /v1/models/{_options.Name}/versions/{ServedVersion}:predict"));
            }
            return VersionProblem(name, target[..colon]) is { } problem ? Task.FromResult(problem) : PredictAsync(context, name + target[colon..]);
        }

        public IResult VersionStatus(HttpContext context, string name, string version) => VersionProblem(name, version) ?? Status(context, name);

        public IResult VersionMetadata(string name, string version) => VersionProblem(name, version) ?? Metadata(name);

        private string ServedVersion => _classifier.Model.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>A 404 when the path names another model or a version this server does not serve; null when it is the served one.</summary>
        private IResult? VersionProblem(string name, string version) =>
            name != _options.Name ? Error(404, $"no model named \"{name}\"; this server serves \"{_options.Name}\"")
            : version != ServedVersion ? Error(404, $"version {version} of {name} is not served; this server serves version {ServedVersion}")
            : null;

        public async Task<IResult> PredictAsync(HttpContext context, string target)
        {
            var classify = target.EndsWith(ClassifySuffix, StringComparison.Ordinal);
            if (!classify && !target.EndsWith(PredictSuffix, StringComparison.Ordinal))
            {
                return target == _options.Name
                    ? MethodNotAllowed(context)
                    : Error(404, $"POST /v1/models/{target} is not an endpoint; predict with POST /v1/models/{_options.Name}:predict (or :classify)");
            }
            var name = target[..target.LastIndexOf(':')];
            if (name != _options.Name)
            {
                return Error(404, $"no model named \"{name}\"; this server serves \"{_options.Name}\"");
            }
            try
            {
                var body = await ReadBodyAsync(context.Request).ConfigureAwait(false);
                var request = PredictRequest.Read(body, _options.MaxInstances, _options.MaxImageBytes, classify ? "examples" : "instances");
                var images = request.Images.Select(i => (ReadOnlyMemory<byte>)i).ToList();
                var field = request.Columnar ? "inputs.image_bytes" : classify ? "examples" : "instances";
                var names = Enumerable.Range(0, images.Count).Select(i => $"{field}[{i}]").ToList();
                var pixels = RequestPixels(images, names);
                var large = pixels > _options.SmallRequestPixels;
                // A large request holds its predict slot while it waits to decode: one slot at least stays for small ones.
                if (large && Interlocked.Increment(ref _largeRequests) > _options.MaxLargeRequests)
                {
                    Interlocked.Decrement(ref _largeRequests);
                    return Error(503, $"the server is busy decoding large requests ({_options.MaxLargeRequests} in progress); retry shortly");
                }
                try
                {
                    return await PredictAsync(request, images, names, large ? pixels : 0, classify, context.RequestAborted).ConfigureAwait(false);
                }
                finally
                {
                    if (large)
                    {
                        Interlocked.Decrement(ref _largeRequests);
                    }
                }
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

        /// <param name="largePixels">The request's pixels when it is large (it then waits for its turn to decode); 0 when small.</param>
        private async Task<IResult> PredictAsync(PredictRequest.Parsed request, List<ReadOnlyMemory<byte>> images, List<string> names, long largePixels, bool classify,
            CancellationToken cancellation)
        {
            using var turn = largePixels > 0 ? await _decoding.AcquireAsync(DecodingPermits(largePixels), cancellation).ConfigureAwait(false) : null;
            if (turn is { IsAcquired: false })
            {
                return Error(503, "the server is busy decoding large requests; retry shortly");
            }
            var predictions = _classifier.Predict(images, names, _options.MaxImagePixels);
            _metrics.Predicted(_options.Name, ServedVersion, predictions.Count);
            if (classify)
            {
                // TF Serving's classify result: per example, every class with its score, the likeliest first.
                return Results.Json(new JsonObject
                {
                    ["result"] = new JsonArray([.. predictions.Select(p => (JsonNode)new JsonArray([.. p.Probabilities
                        .Select((score, id) => (Score: score, Label: _classifier.Card.Classes[id]))
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

        public IResult Status(HttpContext context, string name) => name != _options.Name
            ? name == _options.Name + PredictSuffix ? MethodNotAllowed(context) : Error(404, $"no model named \"{name}\"; this server serves \"{_options.Name}\"")
            : Results.Json(new JsonObject
            {
                ["model_version_status"] = new JsonArray(new JsonObject
                {
                    ["version"] = ServedVersion,
                    ["state"] = "AVAILABLE",
                    ["status"] = new JsonObject { ["error_code"] = "OK", ["error_message"] = "" },
                }),
            });

        /// <summary>
        /// TF Serving's GetModelMetadata answer: the model spec and the serving_default signature_def (the inputs'
        /// and outputs' dtypes and shapes, -1 for the batch), and beside it our model card.
        /// </summary>
        public IResult Metadata(string name) => name != _options.Name
            ? Error(404, $"no model named \"{name}\"; this server serves \"{_options.Name}\"")
            : Results.Json(new JsonObject
            {
                ["model_spec"] = new JsonObject { ["name"] = _options.Name, ["signature_name"] = "", ["version"] = ServedVersion },
                ["metadata"] = new JsonObject
                {
                    ["signature_def"] = new JsonObject
                    {
                        ["signature_def"] = new JsonObject
                        {
                            [PredictRequest.Signature] = new JsonObject
                            {
                                ["inputs"] = new JsonObject
                                {
                                    ["image_bytes"] = Tensor("DT_STRING", "image_bytes", -1),
                                    ["key"] = Tensor("DT_STRING", "key", -1),
                                },
                                ["outputs"] = new JsonObject
                                {
                                    ["classes"] = Tensor("DT_INT64", "classes", -1),
                                    ["label"] = Tensor("DT_STRING", "label", -1),
                                    ["probabilities"] = Tensor("DT_FLOAT", "probabilities", -1, _classifier.Card.Classes.Count),
                                },
                                ["method_name"] = "tensorflow/serving/predict",
                            },
                        },
                    },
                    ["model_card"] = _classifier.Card.ToJson(),
                },
            });

        /// <summary>A TensorInfo as TF Serving's JSON writes it: dtype, shape (sizes as strings), and the tensor's name.</summary>
        private static JsonObject Tensor(string dtype, string name, params long[] dims) => new()
        {
            ["dtype"] = dtype,
            ["tensor_shape"] = new JsonObject
            {
                ["dim"] = new JsonArray([.. dims.Select(d => (JsonNode)new JsonObject { ["size"] = d.ToString(System.Globalization.CultureInfo.InvariantCulture), ["name"] = "" })]),
                ["unknown_rank"] = false,
            },
            ["name"] = $"{name}:0",
        };

        /// <summary>The pixels the request's images decode to, from their headers; over the budget is the client's mistake.</summary>
        private long RequestPixels(IReadOnlyList<ReadOnlyMemory<byte>> images, IReadOnlyList<string> names)
        {
            var each = _classifier.HeaderPixels(images, names, _options.MaxImagePixels);
            long total = 0;
            for (var i = 0; i < each.Length; i++)
            {
                total += each[i];
                if (total > _options.MaxRequestPixels)
                {
                    throw new BadRequestException($"{names[i]}: with it the request's images hold {total:N0} pixels, more than the {_options.MaxRequestPixels:N0} "
                        + "allowed per request (width × height summed from their headers); send fewer or smaller images per request");
                }
            }
            return total;
        }

        /// <summary>An unknown path is a 404; a known one asked with a method it does not take is a 405 saying which it takes.</summary>
        public IResult Unmatched(HttpContext context) => AllowedMethods(context.Request.Path) is not null
            ? MethodNotAllowed(context)
            : Error(404, $"no endpoint {context.Request.Method} {context.Request.Path}; use POST /v1/models/{_options.Name}:predict, GET /v1/models/{_options.Name}, GET /healthz");

        private IResult MethodNotAllowed(HttpContext context)
        {
            var allowed = AllowedMethods(context.Request.Path)!;
            context.Response.Headers.Allow = string.Join(", ", allowed);
            return Error(405, $"{context.Request.Method} is not allowed on {context.Request.Path}; use {string.Join(" or ", allowed)}");
        }

        /// <summary>The methods the server answers on a path, or null when it has no such endpoint; the routes above, as a client sees them.</summary>
        private string[]? AllowedMethods(PathString path)
        {
            var models = $"/v1/models/{_options.Name}";
            return path.Value switch
            {
                "/healthz" or ServerMetrics.Path => [HttpMethods.Get, HttpMethods.Head],
                var p when p == models || p == models + "/metadata" => [HttpMethods.Get, HttpMethods.Head],
                var p when p == $"{models}/versions/{ServedVersion}" || p == $"{models}/versions/{ServedVersion}/metadata" => [HttpMethods.Get, HttpMethods.Head],
                var p when p == $"{models}/versions/{ServedVersion}{PredictSuffix}" || p == $"{models}/versions/{ServedVersion}{ClassifySuffix}" => [HttpMethods.Post],
                var p when p == models + PredictSuffix || p == models + ClassifySuffix => [HttpMethods.Post],
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
