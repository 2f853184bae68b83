using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Datasets;

public sealed class DownloadCacheTests : IDisposable
{
    private const string Origin = "train_set.csv:12";

    private static readonly byte[] Content = Encoding.UTF8.GetBytes("pretend these are the bytes of a JPEG");

    private readonly TempDirectory _dir = new();
    // The real server is on loopback; a proxy from the environment must not come between.
    private readonly SocketsHttpHandler _handler = new() { UseProxy = false };

    public void Dispose()
    {
        _handler.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void Fetch_returns_a_local_copy_and_a_second_fetch_makes_no_request()
    {
        using var server = new TestServer((_, _, response) => TestServer.Ok(response, Content));
        var cache = Cache();

        var first = cache.Fetch(server.Url("img/a.jpg"), Origin);
        var second = cache.Fetch(server.Url("img/a.jpg"), Origin);

        Assert.Equal(Content, File.ReadAllBytes(first));
        Assert.Equal(first, second);
        Assert.Equal(1, server.RequestsFor("img/a.jpg"));
    }

    [Fact]
    public void A_new_cache_over_the_same_folder_makes_no_request()
    {
        using var server = new TestServer((_, _, response) => TestServer.Ok(response, Content));
        var first = Cache().Fetch(server.Url("a.jpg"), Origin);

        var second = Cache().Fetch(server.Url("a.jpg"), Origin);

        Assert.Equal(first, second);
        Assert.Equal(1, server.RequestsFor("a.jpg"));
    }

    [Fact]
    public void Identical_bytes_from_two_urls_are_stored_once()
    {
        using var server = new TestServer((_, _, response) => TestServer.Ok(response, Content));
        var cache = Cache();

        var a = cache.Fetch(server.Url("a.jpg"), Origin);
        var b = cache.Fetch(server.Url("copy-of-a.jpg"), Origin);

        Assert.Equal(a, b);
        Assert.Equal(ContentHash.OfBytes(Content), Path.GetFileName(a));
    }

    [Theory]
    [InlineData(503)]
    [InlineData(500)]
    [InlineData(429)]
    public void Server_error_or_throttling_then_success_succeeds_after_a_retry(int firstStatus)
    {
        using var server = new TestServer((_, n, response) =>
        {
            if (n == 1)
            {
                TestServer.Status(response, firstStatus);
            }
            else
            {
                TestServer.Ok(response, Content);
            }
        });

        var path = Cache().Fetch(server.Url("a.jpg"), Origin);

        Assert.Equal(Content, File.ReadAllBytes(path));
        Assert.Equal(2, server.RequestsFor("a.jpg"));
    }

    [Theory]
    [InlineData(404, "Not Found")]
    [InlineData(403, "Forbidden")]
    public void Client_error_fails_at_once_naming_the_url_status_and_origin(int status, string reason)
    {
        using var server = new TestServer((_, _, response) => TestServer.Status(response, status));
        var url = server.Url("missing.jpg");

        var error = Assert.Throws<DownloadRefusedException>(() => Cache().Fetch(url, Origin));

        Assert.Equal(1, server.RequestsFor("missing.jpg"));
        Assert.Equal(Origin, error.Location);
        Assert.StartsWith($"{Origin}: cannot download {url}: HTTP {status} ({reason}) (attempt 1 of 3; not retried", error.Message);
        Assert.Contains("download the file yourself and write its local path instead", error.Message);
    }

    [Fact]
    public void Persistent_server_error_fails_after_every_attempt_and_is_not_cached()
    {
        var healthy = false;
        using var server = new TestServer((_, _, response) =>
        {
            if (Volatile.Read(ref healthy))
            {
                TestServer.Ok(response, Content);
            }
            else
            {
                TestServer.Status(response, 503);
            }
        });
        var url = server.Url("a.jpg");
        var cache = Cache();

        var error = Assert.Throws<PipelineException>(() => cache.Fetch(url, Origin));
        Volatile.Write(ref healthy, true);
        var path = cache.Fetch(url, Origin);

        Assert.StartsWith($"{Origin}: cannot download {url}: HTTP 503 (Service Unavailable) (failed all 3 attempts)", error.Message);
        Assert.Equal(Content, File.ReadAllBytes(path));
        Assert.Equal(4, server.RequestsFor("a.jpg"));
    }

    [Fact]
    public void Truncated_download_is_retried_and_never_cached()
    {
        using var server = new TestServer((_, n, response) =>
        {
            if (n == 1)
            {
                TestServer.Truncated(response, Content);
            }
            else
            {
                TestServer.Ok(response, Content);
            }
        });

        var path = Cache().Fetch(server.Url("a.jpg"), Origin);

        Assert.Equal(Content, File.ReadAllBytes(path));
        Assert.Equal(2, server.RequestsFor("a.jpg"));
    }

    [Fact]
    public void Unreachable_server_fails_after_every_attempt_naming_the_url_and_origin()
    {
        var url = $"http://127.0.0.1:{TestServer.FreePort()}/a.jpg";

        var error = Assert.Throws<PipelineException>(() => Cache().Fetch(url, Origin));

        Assert.Equal(Origin, error.Location);
        Assert.StartsWith($"{Origin}: cannot download {url}: network error: ", error.Message);
        Assert.Contains("(failed all 3 attempts)", error.Message);
    }

    [Theory]
    [InlineData("gs://cloud-ml-data/img/flower_photos/daisy/100080576_f52e8ee070_n.jpg",
        "https://storage.googleapis.com/cloud-ml-data/img/flower_photos/daisy/100080576_f52e8ee070_n.jpg")]
    [InlineData("gs://bucket/a b/c#1?.jpg", "https://storage.googleapis.com/bucket/a%20b/c%231%3F.jpg")]
    [InlineData("GS://bucket/x.jpg", "https://storage.googleapis.com/bucket/x.jpg")]
    [InlineData("https://example.com/x.jpg", "https://example.com/x.jpg")]
    public void Gs_url_maps_to_its_public_https_form(string url, string expected)
    {
        Assert.Equal(expected, DownloadCache.PublicUrl(url));
    }

    [Fact]
    public void Gs_url_is_requested_through_its_public_https_form()
    {
        var requested = new List<string>();
        using var handler = new RecordingHandler(requested);

        var path = new DownloadCache(Path.Combine(_dir.Path, "cache"), handler).Fetch("gs://bucket/flowers/a.jpg", Origin);

        Assert.Equal(["https://storage.googleapis.com/bucket/flowers/a.jpg"], requested);
        Assert.Equal(Content, File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData("ftp://example.com/a.jpg")]
    [InlineData("gs://bucket-only")]
    [InlineData("gs://bucket/")]
    [InlineData("not a url")]
    public void Unsupported_url_is_rejected_with_its_origin_without_a_request(string url)
    {
        var requested = new List<string>();
        using var handler = new RecordingHandler(requested);

        var error = Assert.Throws<PipelineException>(() => new DownloadCache(Path.Combine(_dir.Path, "cache"), handler).Fetch(url, Origin));

        Assert.Equal(Origin, error.Location);
        Assert.Contains($"cannot download \"{url}\": only http://, https:// and gs://bucket/object URLs are supported", error.Message);
        Assert.Empty(requested);
    }

    private DownloadCache Cache() =>
        new(Path.Combine(_dir.Path, "cache"), _handler, attempts: 3, retryDelay: TimeSpan.FromMilliseconds(10));

    /// <summary>Answers every request with 200 and <see cref="Content"/>, remembering what was asked for.</summary>
    private sealed class RecordingHandler(List<string> requested) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (requested)
            {
                requested.Add(request.RequestUri!.AbsoluteUri);
            }
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(Content) });
        }
    }

    /// <summary>A real HTTP server on loopback whose answer to the n-th request for a path is up to the test.</summary>
    private sealed class TestServer : IDisposable
    {
        private const int MaxRequests = 100;
        private const int MaxStartTries = 10;

        private readonly HttpListener _listener;
        private readonly ConcurrentDictionary<string, int> _requests = new(StringComparer.Ordinal);
        private readonly Action<string, int, HttpListenerResponse> _respond;
        private readonly Task _serving;
        private readonly string _prefix;

        public TestServer(Action<string, int, HttpListenerResponse> respond)
        {
            _respond = respond;
            (_listener, _prefix) = Start();
            _serving = Task.Run(ServeAsync);
        }

        public string Url(string path) => $"{_prefix}{path}";

        public int RequestsFor(string path) => _requests.GetValueOrDefault($"/{path}");

        public static int FreePort()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            return port;
        }

        public static void Ok(HttpListenerResponse response, byte[] body)
        {
            response.StatusCode = 200;
            response.ContentLength64 = body.Length;
            response.OutputStream.Write(body);
            response.Close();
        }

        public static void Status(HttpListenerResponse response, int status)
        {
            response.StatusCode = status;
            response.ContentLength64 = 0;
            response.Close();
        }

        /// <summary>Promises the whole body, sends half, and drops the connection.</summary>
        public static void Truncated(HttpListenerResponse response, byte[] body)
        {
            response.StatusCode = 200;
            response.ContentLength64 = body.Length;
            response.OutputStream.Write(body.AsSpan(0, body.Length / 2));
            response.OutputStream.Flush();
            response.Abort();
        }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            _serving.Wait(TimeSpan.FromSeconds(10));
        }

        // Another process may take the probed port before the listener binds it; a fresh port is tried then.
        private static (HttpListener, string) Start()
        {
            for (var attempt = 1; ; attempt++)
            {
                var prefix = $"http://127.0.0.1:{FreePort()}/";
                var listener = new HttpListener();
                listener.Prefixes.Add(prefix);
                try
                {
                    listener.Start();
                    return (listener, prefix);
                }
                catch (HttpListenerException) when (attempt < MaxStartTries)
                {
                    listener.Close();
                }
            }
        }

        private async Task ServeAsync()
        {
            for (var i = 0; i < MaxRequests; i++)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                var path = context.Request.Url!.AbsolutePath;
                _respond(path, _requests.AddOrUpdate(path, 1, (_, n) => n + 1), context.Response);
            }
        }
    }
}
