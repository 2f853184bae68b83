using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;
using Pipeline.Serving.Http;
using Pipeline.Serving.Tests.TestSupport;
using Pipeline.Serving.Versions;
using Xunit.Abstractions;

namespace Pipeline.Serving.Tests.Http;

/// <summary>A server of every version of an export folder: pinned versions, labels, status of each, and new versions while it serves.</summary>
public sealed class ServerVersionsTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ConcurrentQueue<string> _log = new();
    private readonly ITestOutputHelper _output;
    private readonly string _export;

    public ServerVersionsTests(ITestOutputHelper output)
    {
        _output = output;
        _export = TinyExport.Write(_dir);
    }

    public void Dispose() => _dir.Dispose();

    private string Version(int number) => Path.Combine(_export, number.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static string[] Classes(string tag) => [.. TinyExport.Classes.Select(c => $"{tag}-{c}")];

    private static string Body(byte[] image) => new JsonObject
    {
        ["instances"] = new JsonArray(new JsonObject { ["b64"] = Convert.ToBase64String(image) }),
    }.ToJsonString();

    private static async Task<(HttpStatusCode Status, JsonObject Json)> SendAsync(HttpClient client, HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request);
        return (response.StatusCode, (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Fact]
    public async Task Versions_and_labels_are_served_under_their_paths_and_a_broken_version_is_reported()
    {
        TinyExport.WriteVersion(Version(2), Classes("v2"));
        Directory.CreateDirectory(Version(3));
        File.WriteAllText(Path.Combine(Version(3), ModelCard.FileName), "{}");
        File.WriteAllText(Path.Combine(_export, ModelVersions.LabelsFileName), """{"stable": 1, "canary": 2}""");
        using var versions = ModelVersions.Open(_export, new VersionOptions { Threads = 1, PollInterval = TimeSpan.FromHours(1) }, _log.Enqueue);
        await using var server = await PredictionServer.StartAsync(versions, new ServerOptions("tiny", "127.0.0.1", 0), _log.Enqueue);
        using var client = new HttpClient { BaseAddress = server.Address };
        var black = Body(TestImages.Black);

        var newest = await SendAsync(client, HttpMethod.Post, "v1/models/tiny:predict", black);
        var stable = await SendAsync(client, HttpMethod.Post, "v1/models/tiny/labels/stable:predict", black);
        var canary = await SendAsync(client, HttpMethod.Post, "v1/models/tiny/labels/canary:classify", """{"examples": [{"b64": "%"}]}""".Replace("%", Convert.ToBase64String(TestImages.White), StringComparison.Ordinal));
        var pinned = await SendAsync(client, HttpMethod.Post, "v1/models/tiny/versions/1:predict", black);
        var beta = await SendAsync(client, HttpMethod.Post, "v1/models/tiny/labels/beta:predict", black);
        var broken = await SendAsync(client, HttpMethod.Post, "v1/models/tiny/versions/3:predict", black);
        var notNumber = await SendAsync(client, HttpMethod.Get, "v1/models/tiny/versions/latest");
        var status = await SendAsync(client, HttpMethod.Get, "v1/models/tiny");
        var stableStatus = await SendAsync(client, HttpMethod.Get, "v1/models/tiny/labels/stable");
        var canaryMetadata = await SendAsync(client, HttpMethod.Get, "v1/models/tiny/labels/canary/metadata");
        var labels = await SendAsync(client, HttpMethod.Get, "v1/models/tiny/labels");
        var wrongMethod = await SendAsync(client, HttpMethod.Put, "v1/models/tiny/labels/stable:predict", black);

        Assert.Equal((HttpStatusCode.OK, "v2-dark"), (newest.Status, newest.Json["predictions"]![0]!["label"]!.GetValue<string>()));
        Assert.Equal((HttpStatusCode.OK, "dark"), (stable.Status, stable.Json["predictions"]![0]!["label"]!.GetValue<string>()));
        Assert.Equal((HttpStatusCode.OK, "v2-light"), (canary.Status, canary.Json["result"]![0]![0]![0]!.GetValue<string>()));
        Assert.Equal((HttpStatusCode.OK, "dark"), (pinned.Status, pinned.Json["predictions"]![0]!["label"]!.GetValue<string>()));
        Assert.Equal((HttpStatusCode.NotFound, "tiny: no version is labelled \"beta\"; labels: canary → 2, stable → 1"),
            (beta.Status, beta.Json["error"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.NotFound, broken.Status);
        Assert.StartsWith("tiny: version 3 is not served: it failed to load: ", broken.Json["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.NotFound, "\"latest\" is not a version number (1, 2, …)"), (notNumber.Status, notNumber.Json["error"]!.GetValue<string>()));
        var all = status.Json["model_version_status"]!.AsArray();
        Assert.Equal(["3", "2", "1"], all.Select(s => s!["version"]!.GetValue<string>()));
        Assert.Equal(["END", "AVAILABLE", "AVAILABLE"], all.Select(s => s!["state"]!.GetValue<string>()));
        Assert.Equal(["INVALID_ARGUMENT", "OK", "OK"], all.Select(s => s!["status"]!["error_code"]!.GetValue<string>()));
        Assert.Contains("model.json", all[0]!["status"]!["error_message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("1", Assert.Single(stableStatus.Json["model_version_status"]!.AsArray())!["version"]!.GetValue<string>());
        Assert.Equal("2", canaryMetadata.Json["model_spec"]!["version"]!.GetValue<string>());
        Assert.Equal(Classes("v2"), canaryMetadata.Json["metadata"]!["model_card"]!["classes"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal("""{"canary":"2","stable":"1"}""", labels.Json["labels"]!.ToJsonString());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.Status);
    }

    [Fact]
    public async Task A_server_takes_the_formats_browsers_send_and_refuses_a_tiff_naming_it()
    {
        using var versions = ModelVersions.Open(_export, new VersionOptions { Threads = 1, PollInterval = TimeSpan.FromHours(1) }, _log.Enqueue);
        await using var server = await PredictionServer.StartAsync(versions, new ServerOptions("tiny", "127.0.0.1", 0), _log.Enqueue);
        using var client = new HttpClient { BaseAddress = server.Address };
        using var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.L8>(TinyExport.Size, TinyExport.Size);
        using var tiff = new MemoryStream();
        SixLabors.ImageSharp.ImageExtensions.SaveAsTiff(image, tiff);

        var refused = await SendAsync(client, HttpMethod.Post, "v1/models/tiny:predict", Body(tiff.ToArray()));
        var png = await SendAsync(client, HttpMethod.Post, "v1/models/tiny:predict", Body(TestImages.Black));

        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal("instances[0]: a TIFF image, a format not accepted here (accepted: JPEG, PNG, GIF, BMP, WebP)", refused.Json["error"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, png.Status);
    }

    [Fact]
    public async Task A_version_copied_in_while_clients_send_requests_is_served_without_a_failed_request()
    {
        using var versions = ModelVersions.Open(_export, new VersionOptions { Threads = 1, PollInterval = TimeSpan.FromMilliseconds(20) }, _log.Enqueue);
        await using var server = await PredictionServer.StartAsync(versions, new ServerOptions("tiny", "127.0.0.1", 0), _log.Enqueue);
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };
        using var stop = new CancellationTokenSource();
        var body = Body(TestImages.Black);
        var failures = new ConcurrentQueue<string>();
        var answered = new ConcurrentDictionary<string, int>();
        var sawFirst = 0;

        // Four clients in a loop; each keeps the order of the versions that answered it.
        var clients = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var seen = new List<string>();
            while (!stop.IsCancellationRequested)
            {
                using var response = await client.PostAsync("v1/models/tiny:predict", new StringContent(body, Encoding.UTF8, "application/json"));
                var text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failures.Enqueue($"{(int)response.StatusCode} {text}");
                    continue;
                }
                var label = JsonNode.Parse(text)!["predictions"]![0]!["label"]!.GetValue<string>();
                answered.AddOrUpdate(label, 1, (_, n) => n + 1);
                if (seen.Count == 0 || seen[^1] != label)
                {
                    if (seen.Count == 0)
                    {
                        Interlocked.Increment(ref sawFirst);
                    }
                    seen.Add(label);
                }
            }
            return seen;
        })).ToList();

        // Every client has had an answer (from version 1) before version 2 arrives, however slow the machine.
        var warming = Stopwatch.StartNew();
        while (Volatile.Read(ref sawFirst) < 4 && failures.IsEmpty && warming.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(10);
        }
        // Copied in file by file, as cp -r does, with the graph written in two halves: the server must not serve it half-written.
        var staging = TinyExport.WriteVersion(_dir.Combine("staging/2"), Classes("v2"));
        Directory.CreateDirectory(Version(2));
        foreach (var file in new[] { ModelCard.LabelsFile, ModelCard.FileName })
        {
            File.Copy(Path.Combine(staging, file), Path.Combine(Version(2), file));
            await Task.Delay(60);
        }
        var onnx = File.ReadAllBytes(Path.Combine(staging, ModelCard.OnnxFile));
        await using (var stream = File.Create(Path.Combine(Version(2), ModelCard.OnnxFile)))
        {
            await stream.WriteAsync(onnx.AsMemory(0, onnx.Length / 2));
            await stream.FlushAsync();
            await Task.Delay(100);
            await stream.WriteAsync(onnx.AsMemory(onnx.Length / 2));
        }
        var copied = Stopwatch.StartNew();
        while (!versions.Available().Contains(2) && copied.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(5);
        }
        var reload = copied.Elapsed;
        await Task.Delay(300);
        // The old version leaves while requests run: those holding it finish on it.
        Directory.Delete(Version(1), recursive: true);
        await Task.Delay(300);
        await stop.CancelAsync();
        var orders = await Task.WhenAll(clients);

        _output.WriteLine($"version 2 served {reload.TotalMilliseconds:0} ms after its last byte was written (polling every 20 ms); answers: "
            + string.Join(", ", answered.Select(a => $"{a.Key} {a.Value}")));
        Assert.Empty(failures);
        Assert.Equal([2], versions.Available());
        Assert.True(answered.GetValueOrDefault("dark") > 0 && answered.GetValueOrDefault("v2-dark") > 0, string.Join(", ", answered));
        // Each client saw version 1, then version 2, and never version 1 again.
        Assert.All(orders, order => Assert.Equal(["dark", "v2-dark"], order));
        Assert.Contains(_log, l => l.StartsWith("version 2 loaded", StringComparison.Ordinal));
        Assert.Contains(_log, l => l.StartsWith("version 1 unloaded: its folder is gone", StringComparison.Ordinal));
        Assert.DoesNotContain(_log, l => l.StartsWith("error", StringComparison.Ordinal));
    }
}
