using System.Net;
using System.Text.Json.Nodes;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;
using Pipeline.Serving.Http;
using Pipeline.Serving.Prediction;
using Pipeline.Serving.Tests.TestSupport;

namespace Pipeline.Serving.Tests.Http;

public sealed class PredictionServerLimitsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A body that sends its first bytes and then waits until told to finish: a request held open mid-read.</summary>
    private sealed class HeldContent(byte[] bytes, Task release) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(bytes.AsMemory(0, 10));
            await stream.FlushAsync();
            await release;
            await stream.WriteAsync(bytes.AsMemory(10));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task Past_the_running_and_queued_limits_a_request_gets_503_with_a_json_error_and_the_held_one_still_succeeds()
    {
        using var classifier = OnnxClassifier.Load(ExportedModel.Open(TinyExport.Write(_dir)), threads: 1);
        await using var server = await PredictionServer.StartAsync(classifier,
            new ServerOptions("tiny", "127.0.0.1", 0) { MaxConcurrentRequests = 1, MaxQueuedRequests = 0 });
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };
        var body = new JsonObject { ["instances"] = new JsonArray(new JsonObject { ["b64"] = Convert.ToBase64String(TestImages.Black) }) }.ToJsonString();
        var release = new TaskCompletionSource();

        var held = client.PostAsync("v1/models/tiny:predict", new HeldContent(System.Text.Encoding.UTF8.GetBytes(body), release.Task));
        // The held request has its permit once its first bytes arrived; give the server a moment to take them.
        HttpResponseMessage busy;
        var tries = 0;
        do
        {
            await Task.Delay(50);
            busy = await client.PostAsync("v1/models/tiny:predict", new StringContent(body));
        }
        while (busy.StatusCode == HttpStatusCode.OK && ++tries < 40);
        release.SetResult();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
        Assert.Contains("the server is busy", JsonNode.Parse(await busy.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await held).StatusCode);
    }

    [Fact]
    public async Task While_every_predict_permit_is_held_healthz_status_and_metadata_still_answer()
    {
        using var classifier = OnnxClassifier.Load(ExportedModel.Open(TinyExport.Write(_dir)), threads: 1);
        await using var server = await PredictionServer.StartAsync(classifier,
            new ServerOptions("tiny", "127.0.0.1", 0) { MaxConcurrentRequests = 1, MaxQueuedRequests = 0 });
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };
        var body = new JsonObject { ["instances"] = new JsonArray(new JsonObject { ["b64"] = Convert.ToBase64String(TestImages.Black) }) }.ToJsonString();
        var release = new TaskCompletionSource();

        var held = client.PostAsync("v1/models/tiny:predict", new HeldContent(System.Text.Encoding.UTF8.GetBytes(body), release.Task));
        HttpResponseMessage busy;
        var tries = 0;
        do
        {
            await Task.Delay(50);
            busy = await client.PostAsync("v1/models/tiny:predict", new StringContent(body));
        }
        while (busy.StatusCode == HttpStatusCode.OK && ++tries < 100);
        var answers = await Task.WhenAll(new[] { "healthz", "v1/models/tiny", "v1/models/tiny/metadata" }.Select(path => client.GetAsync(path)));
        release.SetResult();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.StatusCode));
        Assert.Equal(HttpStatusCode.OK, (await held).StatusCode);
    }

    [Fact]
    public async Task Large_requests_never_take_the_last_predict_slot_so_a_small_one_is_answered_while_they_decode()
    {
        using var classifier = OnnxClassifier.Load(ExportedModel.Open(TinyExport.Write(_dir)), threads: 1);
        await using var server = await PredictionServer.StartAsync(classifier,
            new ServerOptions("tiny", "127.0.0.1", 0) { MaxConcurrentRequests = 2, MaxQueuedRequests = 0 });
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(120) };
        var huge = Convert.ToBase64String(TestImages.RgbJpeg(new SixLabors.ImageSharp.PixelFormats.Rgb24(90, 120, 150), 5000, 5000));
        string Body(params string[] images) =>
            new JsonObject { ["instances"] = new JsonArray([.. images.Select(i => (JsonNode)new JsonObject { ["b64"] = i })]) }.ToJsonString();
        var small = Convert.ToBase64String(TestImages.Black);

        // Two 25-megapixel images: this request decodes for a second or more, holding one of the two predict slots.
        // On a busy machine its body may still be arriving when the next large one is counted, and it is then the one
        // refused: that attempt shows nothing, so it is made again (at most three times).
        HttpResponseMessage? refused = null;
        HttpResponseMessage? answered = null;
        HttpResponseMessage last = null!;
        for (var attempt = 0; attempt < 3 && refused is null; attempt++)
        {
            var decoding = client.PostAsync("v1/models/tiny:predict", new StringContent(Body(huge, huge)));
            await Task.Delay(300); // its body sent and its size read: it is in flight, large
            while (!decoding.IsCompleted && refused is null)
            {
                var second = await client.PostAsync("v1/models/tiny:predict", new StringContent(Body(huge)));
                if (second.StatusCode == HttpStatusCode.ServiceUnavailable && !decoding.IsCompleted)
                {
                    refused = second;
                    answered = await client.PostAsync("v1/models/tiny:predict", new StringContent(Body(small)));
                }
            }
            last = await decoding;
        }

        Assert.True(refused is not null, $"{(int)last.StatusCode} {await last.Content.ReadAsStringAsync()}");
        Assert.Contains("busy decoding large requests (1 in progress)", JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, answered!.StatusCode);
        Assert.Equal(HttpStatusCode.OK, last.StatusCode);
    }
}
