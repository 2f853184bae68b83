using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Serving.Tests.TestSupport;

namespace Pipeline.Serving.Tests.Http;

/// <summary>Stopping the server (as on SIGTERM) finishes the requests in flight, and the log says how many.</summary>
public sealed class ServerDrainTests
{
    /// <summary>A body sent in two parts: the second only once the test releases it, so the request stays in flight.</summary>
    private sealed class HeldContent(byte[] bytes, Task release) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
            await stream.FlushAsync();
            await release;
            await stream.WriteAsync(bytes.AsMemory(bytes.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = bytes.Length;
            return true;
        }
    }

    [Fact]
    public async Task A_stop_waits_for_the_request_in_flight_answers_it_and_logs_the_drain()
    {
        var served = new ServedModel();
        await served.InitializeAsync();
        var release = new TaskCompletionSource();
        var body = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["instances"] = new JsonArray(new JsonObject { ["b64"] = Convert.ToBase64String(TestImages.Black) }),
        }.ToJsonString());
        using var content = new HeldContent(body, release.Task);
        content.Headers.ContentType = new("application/json");
        try
        {
            var request = served.Client.PostAsync($"v1/models/{ServedModel.Name}:predict", content);
            await WaitUntil(() => served.Server.InFlight == 1);

            var stopping = served.Server.DisposeAsync().AsTask();
            await WaitUntil(() => served.Log.Any(l => l.StartsWith("stopping:", StringComparison.Ordinal)));
            Assert.False(stopping.IsCompleted);
            release.SetResult();
            var response = await request;
            await stopping;

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(["stopping: new requests are refused; 1 request in flight finish first", "stopped: 1 request finished during the drain"], served.Log);
        }
        finally
        {
            release.TrySetResult();
            await served.DisposeAsync();
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var waited = 0; !condition(); waited += 10)
        {
            Assert.True(waited < 10_000, "the condition did not hold within 10 s");
            await Task.Delay(10);
        }
    }
}
