using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Pipeline.Core.Engine;

/// <summary>
/// A remote cache spoken to in Bazel's HTTP remote-cache protocol: blobs under &lt;url&gt;/cas/&lt;sha256&gt; and
/// action results under &lt;url&gt;/ac/&lt;key&gt;, each read with GET and written with PUT (HEAD asks whether a
/// blob is there). bazel-remote, nginx with WebDAV PUT, or an object store behind such a proxy serve it. Nothing read
/// is trusted: a blob is checked against its SHA-256 and size as it arrives.
/// </summary>
/// <remarks>
/// Credentials come from the environment, never from the URL, which is shown in logs: a bearer token in
/// <see cref="TokenVariable"/>, or <see cref="UserVariable"/> and <see cref="PasswordVariable"/> for basic auth.
/// </remarks>
public sealed class HttpCache : IDisposable
{
    public const string TokenVariable = "PIPELINE_CACHE_TOKEN";
    public const string UserVariable = "PIPELINE_CACHE_USER";
    public const string PasswordVariable = "PIPELINE_CACHE_PASSWORD";

    private readonly HttpClient _http;
    private readonly Uri _base;

    /// <param name="url">http:// or https://, with an optional path prefix; no credentials, query or fragment.</param>
    /// <param name="environment">Reads an environment variable (tests pass their own).</param>
    /// <param name="handler">The HTTP stack; null for the usual one with a 5-second connect timeout.</param>
    /// <exception cref="PipelineException">The URL is not one this can use.</exception>
    public HttpCache(string url, Func<string, string?>? environment = null, HttpMessageHandler? handler = null)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new PipelineException($"the remote cache \"{url}\" is not an http:// or https:// URL");
        }
        if (uri.UserInfo.Length > 0)
        {
            throw new PipelineException($"the remote cache URL holds credentials, and URLs are shown in logs: give them in {UserVariable} and {PasswordVariable}, or a token in {TokenVariable}");
        }
        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            throw new PipelineException($"the remote cache URL \"{url}\" has a query or fragment; give the server and path prefix only");
        }
        _base = new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/");
        Display = _base.ToString().TrimEnd('/');
        _http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) }, disposeHandler: true)
        {
            Timeout = TimeSpan.FromMinutes(10),
        };
        _http.DefaultRequestHeaders.Authorization = Authorization(environment ?? Environment.GetEnvironmentVariable);
    }

    /// <summary>The URL as logs show it (it holds no credentials).</summary>
    public string Display { get; }

    /// <summary>Whether a --cache value names a remote cache rather than a folder.</summary>
    public static bool IsUrl(string value) =>
        value.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    /// <summary>The hex SHA-256 the content-addressed store names a blob by.</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>An action result, or null when the cache has none under <paramref name="key"/>.</summary>
    /// <exception cref="RemoteCacheException">The remote cannot be used (unreachable, refused, failed).</exception>
    public byte[]? GetActionResult(string key) => Send(HttpMethod.Get, $"ac/{key}", null, response =>
        response.StatusCode == HttpStatusCode.NotFound ? null : response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult());

    /// <exception cref="RemoteCacheException">The remote cannot be used.</exception>
    public void PutActionResult(string key, byte[] bytes) => Send(HttpMethod.Put, $"ac/{key}", new ByteArrayContent(bytes), _ => 0);

    /// <summary>Whether the store holds the blob; false also when the server cannot say (it is then uploaded).</summary>
    /// <exception cref="RemoteCacheException">The remote cannot be used.</exception>
    public bool HasBlob(string sha256) => Send(HttpMethod.Head, $"cas/{sha256}", null, response => response.IsSuccessStatusCode, acceptAny: true);

    /// <exception cref="RemoteCacheException">The remote cannot be used.</exception>
    public void PutBlob(string sha256, string path)
    {
        using var file = File.OpenRead(path);
        Send(HttpMethod.Put, $"cas/{sha256}", new StreamContent(file, 1 << 16), _ => 0);
    }

    /// <summary>Downloads a blob to <paramref name="path"/>, checking its SHA-256 and size; false when the store has none.</summary>
    /// <exception cref="RemoteCacheException">The remote cannot be used, or the blob it sent is not the one asked for (then <see cref="RemoteCacheException.Damaged"/>).</exception>
    public bool GetBlob(string sha256, long size, string path) => Send(HttpMethod.Get, $"cas/{sha256}", null, response =>
    {
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long received = 0;
        using (var body = response.Content.ReadAsStream())
        using (var file = File.Create(path))
        {
            var buffer = new byte[1 << 16];
            int read;
            while ((read = body.Read(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                file.Write(buffer, 0, read);
                received += read;
            }
        }
        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (actual != sha256 || received != size)
        {
            throw new RemoteCacheException($"cas/{sha256} holds {received:N0} bytes with SHA-256 {ContentHash.Short(actual)}, not the {size:N0} bytes asked for", damaged: true);
        }
        return true;
    });

    public void Dispose() => _http.Dispose();

    private T Send<T>(HttpMethod method, string relative, HttpContent? content, Func<HttpResponseMessage, T> read, bool acceptAny = false)
    {
        using var request = new HttpRequestMessage(method, new Uri(_base, relative)) { Content = content };
        try
        {
            using var response = _http.Send(request, HttpCompletionOption.ResponseHeadersRead);
            if (!acceptAny && !response.IsSuccessStatusCode && !(method == HttpMethod.Get && response.StatusCode == HttpStatusCode.NotFound))
            {
                throw new RemoteCacheException($"{method} {relative} was answered {(int)response.StatusCode} {response.ReasonPhrase}", damaged: false);
            }
            return read(response);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            throw new RemoteCacheException($"{method} {relative} failed: {Innermost(e)}", damaged: false);
        }
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }
        return e is TaskCanceledException ? "timed out" : e.Message;
    }

    private static AuthenticationHeaderValue? Authorization(Func<string, string?> environment)
    {
        var token = environment(TokenVariable);
        var user = environment(UserVariable);
        if (!string.IsNullOrEmpty(token))
        {
            if (!string.IsNullOrEmpty(user))
            {
                throw new PipelineException($"both {TokenVariable} and {UserVariable} are set; the remote cache takes one way to authenticate");
            }
            return new AuthenticationHeaderValue("Bearer", token);
        }
        if (!string.IsNullOrEmpty(user))
        {
            var password = environment(PasswordVariable) ?? "";
            return new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        }
        return null;
    }
}

/// <summary>The remote cache cannot be used for now, or sent a blob that is not the one asked for (<see cref="Damaged"/>).</summary>
public sealed class RemoteCacheException(string message, bool damaged) : Exception(message)
{
    /// <summary>The remote answered, with wrong bytes: that entry is a miss, the remote stays in use.</summary>
    public bool Damaged { get; } = damaged;
}
