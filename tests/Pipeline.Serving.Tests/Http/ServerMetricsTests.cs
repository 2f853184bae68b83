using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Serving.Http;
using Pipeline.Serving.Tests.TestSupport;

namespace Pipeline.Serving.Tests.Http;

/// <summary>/monitoring/prometheus/metrics: every request counted by endpoint and status code, timed, and the model's load.</summary>
public sealed class ServerMetricsTests
{
    [Fact]
    public async Task Every_answer_is_counted_by_endpoint_and_code_and_timed_and_the_model_load_is_an_event()
    {
        // A server of its own: the counts below are this test's requests and nothing else's.
        var served = new ServedModel();
        await served.InitializeAsync();
        try
        {
            var client = served.Client;
            var predict = $"v1/models/{ServedModel.Name}:predict";
            var good = new JsonObject { ["instances"] = new JsonArray(Instance(TestImages.Black), Instance(TestImages.White)) }.ToJsonString();
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(predict, Json(good))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(predict, Json(good))).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync(predict, Json("{\"instances\": ["))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"v1/models/{ServedModel.Name}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("wp-admin/setup.php")).StatusCode);

            var response = await client.GetAsync(ServerMetrics.Path.TrimStart('/'));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
            var lines = (await response.Content.ReadAsStringAsync()).Split('\n');
            const string labels = "model=\"tiny\",version=\"1\"";
            Assert.Contains($"pipeline_requests_total{{{labels},endpoint=\"predict\",code=\"200\"}} 2", lines);
            Assert.Contains($"pipeline_requests_total{{{labels},endpoint=\"predict\",code=\"400\"}} 1", lines);
            // Requests no one version answers (the status of every version, an unknown path) count under version "".
            const string noVersion = "model=\"tiny\",version=\"\"";
            Assert.Contains($"pipeline_requests_total{{{noVersion},endpoint=\"status\",code=\"200\"}} 1", lines);
            // An unknown path is one series, whatever the path: a scan cannot make a series per path.
            Assert.Contains($"pipeline_requests_total{{{noVersion},endpoint=\"other\",code=\"404\"}} 1", lines);
            Assert.DoesNotContain(lines, l => l.Contains("wp-admin", StringComparison.Ordinal));
            Assert.Contains($"pipeline_request_duration_seconds_count{{{labels},endpoint=\"predict\"}} 3", lines);
            Assert.Contains(lines, l => l.StartsWith($"pipeline_request_duration_seconds_bucket{{{labels},endpoint=\"predict\",le=\"+Inf\"}} 3", StringComparison.Ordinal));
            Assert.Contains($"pipeline_predicted_instances_total{{{labels}}} 4", lines);
            Assert.Contains($"pipeline_model_loads_total{{{labels},result=\"ok\"}} 1", lines);
            Assert.Empty(served.Log);
        }
        finally
        {
            await served.DisposeAsync();
        }
    }

    private static JsonObject Instance(byte[] image) => new() { ["b64"] = Convert.ToBase64String(image) };

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
