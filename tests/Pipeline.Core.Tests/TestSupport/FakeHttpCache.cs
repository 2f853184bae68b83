using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Pipeline.Core.Tests.TestSupport;

/// <summary>
/// An in-process HTTP cache speaking Bazel's protocol as a plain key-value store (GET, HEAD, PUT under any path), whose
/// blobs a test can read, damage or delete, and which can refuse requests. The real server (nginx) is tested elsewhere.
/// </summary>
public sealed class FakeHttpCache : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;

    public FakeHttpCache()
    {
        Port = FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = Task.Run(Serve);
    }

    public int Port { get; }

    /// <summary>The cache's URL, with a path prefix as a shared server would have.</summary>
    public string Url => $"http://127.0.0.1:{Port}/team/cache";

    /// <summary>What the server holds, by path under the prefix ("cas/…", "ac/…").</summary>
    public ConcurrentDictionary<string, byte[]> Store { get; } = new(StringComparer.Ordinal);

    /// <summary>Every request, as "METHOD path".</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>The Authorization header of every request that had one.</summary>
    public ConcurrentQueue<string> Authorizations { get; } = new();

    /// <summary>When set, a request it matches ("PUT ac/…") is answered with this status instead.</summary>
    public Func<string, HttpStatusCode?>? Refuse { get; set; }

    public IEnumerable<string> Keys(string kind) => Store.Keys.Where(k => k.StartsWith(kind + "/", StringComparison.Ordinal));

    public void Dispose()
    {
        _listener.Close();
        try
        {
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
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
            Handle(context);
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        const string prefix = "/team/cache/";
        var path = request.Url!.AbsolutePath;
        var key = path.StartsWith(prefix, StringComparison.Ordinal) ? path[prefix.Length..] : null;
        var line = $"{request.HttpMethod} {key ?? path}";
        Requests.Enqueue(line);
        if (request.Headers["Authorization"] is { } authorization)
        {
            Authorizations.Enqueue(authorization);
        }
        try
        {
            if (Refuse?.Invoke(line) is { } status)
            {
                response.StatusCode = (int)status;
            }
            else if (key is null)
            {
                response.StatusCode = 404;
            }
            else if (request.HttpMethod == "PUT")
            {
                using var body = new MemoryStream();
                request.InputStream.CopyTo(body);
                Store[key] = body.ToArray();
                response.StatusCode = 201;
            }
            else if (Store.TryGetValue(key, out var bytes))
            {
                response.StatusCode = 200;
                response.ContentLength64 = bytes.Length;
                if (request.HttpMethod == "GET")
                {
                    response.OutputStream.Write(bytes);
                }
            }
            else
            {
                response.StatusCode = 404;
            }
        }
        finally
        {
            response.Close();
        }
    }
}
