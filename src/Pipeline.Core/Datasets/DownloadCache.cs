using System.Net;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>Remote files (http, https, gs) fetched once and kept under their content hash, so later builds need no network.</summary>
/// <remarks>
/// Layout: objects/&lt;content hash&gt; holds the bytes; urls/&lt;hash of the URL&gt; holds the content hash and the URL.
/// One small index file per URL (rather than one shared index) lets parallel fetches record themselves without a lock.
/// </remarks>
public sealed class DownloadCache
{
    private const string UserAgent = "Pipeline.Core-DownloadCache/1.0";

    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    // One client for the process when none is given: sockets are pooled across caches, and the pool is recycled so DNS changes are seen.
    private static readonly HttpClient SharedClient = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        AutomaticDecompression = DecompressionMethods.All,
    });

    private readonly string _objects;
    private readonly string _urls;
    private readonly HttpClient _client;
    private readonly int _attempts;
    private readonly TimeSpan _retryDelay;

    /// <param name="directory">Where the cache lives; created on first use.</param>
    /// <param name="handler">Sends the requests (tests pass their own); the caller keeps ownership.</param>
    /// <param name="attempts">Tries per URL before giving up on network errors, timeouts, 5xx and 429.</param>
    /// <param name="retryDelay">Wait before the second try; it doubles for each later one.</param>
    public DownloadCache(string directory, HttpMessageHandler? handler = null, int attempts = 3, TimeSpan? retryDelay = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        var root = Path.GetFullPath(directory);
        _objects = Path.Combine(root, "objects");
        _urls = Path.Combine(root, "urls");
        _client = handler is null ? SharedClient : new HttpClient(handler, disposeHandler: false);
        _attempts = attempts;
        _retryDelay = retryDelay ?? TimeSpan.FromSeconds(1);
    }

    /// <summary>The local path of the file at <paramref name="url"/>, downloading it only if this cache has never seen the URL.</summary>
    /// <param name="origin">Where the URL was written ("train_set.csv:12"), for the error message.</param>
    public string Fetch(string url, string origin)
    {
        if (!IsSupported(url))
        {
            throw new PipelineException(
                $"cannot download \"{url}\": only http://, https:// and gs://bucket/object URLs are supported; use one of those or a local path",
                origin);
        }

        var indexPath = Path.Combine(_urls, ContentHash.OfText(url));
        var cached = Cached(indexPath);
        if (cached is not null)
        {
            return cached;
        }

        var bytes = DownloadAsync(url, origin).GetAwaiter().GetResult();
        var hash = ContentHash.OfBytes(bytes);
        var objectPath = Path.Combine(_objects, hash);
        // The object goes first: an index entry must never point at bytes that are not there yet.
        if (!File.Exists(objectPath))
        {
            WriteAtomically(objectPath, bytes);
        }
        WriteAtomically(indexPath, System.Text.Encoding.UTF8.GetBytes($"{hash}\n{url}\n"));
        return objectPath;
    }

    /// <summary>The https form a URL is requested by: gs://bucket/object becomes its public storage.googleapis.com address.</summary>
    internal static string PublicUrl(string url)
    {
        if (!url.StartsWith("gs://", StringComparison.OrdinalIgnoreCase))
        {
            return url;
        }
        var rest = url["gs://".Length..];
        var slash = rest.IndexOf('/');
        var bucket = rest[..slash];
        // Object names are written raw (as gsutil shows them), so each segment is escaped here.
        var objectName = string.Join('/', rest[(slash + 1)..].Split('/').Select(Uri.EscapeDataString));
        return $"https://storage.googleapis.com/{bucket}/{objectName}";
    }

    private static bool IsSupported(string url)
    {
        if (url.StartsWith("gs://", StringComparison.OrdinalIgnoreCase))
        {
            var rest = url["gs://".Length..];
            var slash = rest.IndexOf('/');
            return slash > 0 && slash < rest.Length - 1;
        }
        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";
    }

    private string? Cached(string indexPath)
    {
        if (!File.Exists(indexPath))
        {
            return null;
        }
        var hash = File.ReadLines(indexPath).FirstOrDefault()?.Trim();
        if (string.IsNullOrEmpty(hash) || !hash.All(char.IsAsciiHexDigitLower))
        {
            return null;
        }
        var objectPath = Path.Combine(_objects, hash);
        return File.Exists(objectPath) ? objectPath : null;
    }

    private async Task<byte[]> DownloadAsync(string url, string origin)
    {
        var requestUrl = PublicUrl(url);
        var shownUrl = requestUrl == url ? url : $"{url} ({requestUrl})";
        var delay = _retryDelay;
        for (var attempt = 1; attempt <= _attempts; attempt++)
        {
            var (bytes, error, retryable) = await TryDownloadAsync(requestUrl).ConfigureAwait(false);
            if (bytes is not null)
            {
                return bytes;
            }
            if (!retryable)
            {
                throw new DownloadRefusedException(
                    $"cannot download {shownUrl}: {error} (attempt {attempt} of {_attempts}; not retried, since the server refused the request); " +
                    "check the URL, or download the file yourself and write its local path instead",
                    origin);
            }
            if (attempt == _attempts)
            {
                throw new PipelineException(
                    $"cannot download {shownUrl}: {error} (failed all {_attempts} attempts); " +
                    "check your network and the server, or download the file yourself and write its local path instead",
                    origin);
            }
            await Task.Delay(delay).ConfigureAwait(false);
            delay = delay * 2 < MaxDelay ? delay * 2 : MaxDelay;
        }
        throw new InvalidOperationException("unreachable: the last attempt either returns or throws");
    }

    private async Task<(byte[]? Bytes, string Error, bool Retryable)> TryDownloadAsync(string requestUrl)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, requestUrl);
            request.Headers.UserAgent.ParseAdd(UserAgent);
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return (await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false), "", false);
            }
            var error = $"HTTP {status} ({response.ReasonPhrase ?? response.StatusCode.ToString()})";
            return (null, error, status >= 500 || status == 429);
        }
        catch (HttpRequestException e)
        {
            return (null, $"network error: {e.Message}", true);
        }
        catch (IOException e)
        {
            return (null, $"connection lost while reading: {e.Message}", true);
        }
        catch (TaskCanceledException)
        {
            // Nothing here cancels a request, so a cancellation is HttpClient's timeout.
            return (null, $"no answer within {_client.Timeout.TotalSeconds:0} s", true);
        }
    }

    // Not AtomicFile: its temporary name is per process, and two threads may fetch the same URL at once.
    private static void WriteAtomically(string path, byte[] bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }
}
