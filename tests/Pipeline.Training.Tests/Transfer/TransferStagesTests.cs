using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;
using Pipeline.Serving.Http;
using Pipeline.Serving.Prediction;
using Pipeline.Training.Export;
using Pipeline.Training.Smoke;
using Pipeline.Training.Tests.TestSupport;
using Pipeline.Training.Training;
using Pipeline.Training.Transfer;

namespace Pipeline.Training.Tests.Transfer;

/// <summary>
/// A transfer dataset through the chain, on generated images and the real ImageNet ResNet-18: which bottlenecks each
/// change computes, and a transferred model exported, smoke-predicted and served.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public sealed class TransferStagesTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly List<string> _log = [];

    public void Dispose() => _dir.Dispose();

    private DatasetPipeline Open(string name) => DatasetPipeline.Open(_dir.Path, name, _log.Add, laterStages: TrainingStages.All);

    /// <summary>Builds the chain up to <paramref name="stage"/> and returns what the Bottlenecks stage logged about its work.</summary>
    private string Build(DatasetPipeline pipeline, string stage)
    {
        _log.Clear();
        foreach (var s in pipeline.Chain(stage))
        {
            pipeline.Engine.Run(s);
        }
        return _log.LastOrDefault(l => l.Contains("reused from", StringComparison.Ordinal)) ?? "(Bottlenecks did not run)";
    }

    private string StatusOf(DatasetPipeline pipeline, string stage) =>
        DatasetPipeline.Describe(pipeline.Status().Single(s => s.Stage == stage));

    [Fact]
    public void Each_change_computes_only_the_bottlenecks_it_must()
    {
        // 3 classes × 2 train images + 3 × 3 test images.
        var name = ShapesDataset.WriteTransfer(_dir, perClass: 2);
        var pipeline = Open(name);
        pipeline.Run("labels", false);
        pipeline.Run("records", false);
        Assert.Contains("15 of 15 images have no cached bottleneck", StatusOf(pipeline, "bottlenecks"));
        Assert.Contains("15 bottlenecks computed, 0 reused", Build(pipeline, "bottlenecks"));

        // New images: one more per class.
        pipeline = Open(ShapesDataset.WriteTransfer(_dir, perClass: 3));
        pipeline.Run("labels", false);
        pipeline.Run("records", false);
        Assert.Contains("3 of 18 images have no cached bottleneck", StatusOf(pipeline, "bottlenecks"));
        Assert.Contains("3 bottlenecks computed, 15 reused", Build(pipeline, "bottlenecks"));

        // A changed image: one pixel of the first train image (IDX: a 16-byte header, then 16 × 16 bytes per image).
        using (var images = File.OpenWrite(ShapesDataset.ImagesPath(_dir, name, "train")))
        {
            images.Position = 16 + 5;
            images.WriteByte(200);
        }
        Assert.Contains("1 bottleneck computed, 17 reused", Build(pipeline, "bottlenecks"));

        // Head training parameters alone: no bottleneck computed, only the head retrained.
        Build(pipeline, "train");
        pipeline = Open(ShapesDataset.WriteTransfer(_dir, perClass: 3, transfer: "\"learning_rate\": 0.05,"));
        Assert.StartsWith("Bottlenecks: fresh", StatusOf(pipeline, "bottlenecks"));
        Assert.Contains("transfer.learning_rate 0.01 → 0.05", StatusOf(pipeline, "train"));
        Assert.Equal("(Bottlenecks did not run)", Build(pipeline, "train"));
        Assert.Contains(_log, l => l.Contains("trained the head 100 steps", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_transferred_model_exports_smoke_predicts_and_serves_over_http()
    {
        var name = ShapesDataset.WriteTransfer(_dir, perClass: 4, sections: "\"export\": { \"min_accuracy\": 0 }, \"smoke\": { \"accuracy_tolerance\": 1 },");
        var pipeline = Open(name);

        Build(pipeline, "smokepredict");

        var lines = string.Join("\n", _log);
        Assert.Matches(@"step 100: train accuracy [0-9.]+%, cross entropy [0-9.]+, test accuracy [0-9.]+% \(N=9\)", lines);
        var trained = TrainedModel.Read(Path.Combine(pipeline.ArtifactsDirectory, TrainStage.Output));
        Assert.Equal(TransferHead.Architecture, trained.Architecture);
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, "eval", "metrics.json")))!;
        Assert.Equal(9, metrics["examples"]!.GetValue<int>());

        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, SmokePredictStage.Output, SmokePredictStage.ReportName)))!;
        Assert.All(report["checks"]!.AsArray(), c => Assert.True(c!["passed"]!.GetValue<bool>(), c["check"]!.GetValue<string>()));
        // One ONNX graph (backbone and head) agrees with the backbone's bottleneck then the head in TorchSharp.
        Assert.True(report["max_probability_difference"]!.GetValue<double>() <= 1e-4);

        var exported = ExportedModel.Open(Path.Combine(pipeline.ArtifactsDirectory, ExportStage.Output));
        Assert.Equal(TransferHead.Architecture, exported.Card.Architecture);
        Assert.Equal([3, 224], new[] { exported.Card.Input.Channels, exported.Card.Input.Size });
        using var classifier = OnnxClassifier.Load(exported, threads: 1);
        await using var server = await PredictionServer.StartAsync(classifier, new ServerOptions("shapes", "127.0.0.1", 0));
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        var request = new JsonObject
        {
            ["instances"] = new JsonArray(
                new JsonObject { ["image_bytes"] = new JsonObject { ["b64"] = Convert.ToBase64String(ShapesDataset.Png(1)) } },
                new JsonObject { ["image_bytes"] = new JsonObject { ["b64"] = Convert.ToBase64String(ShapesDataset.Png(2)) } }),
        };

        using var response = await client.PostAsJsonAsync("/v1/models/shapes:predict", request);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var predictions = answer["predictions"]!.AsArray();
        Assert.Equal(2, predictions.Count);
        Assert.All(predictions, p =>
        {
            var probabilities = p!["probabilities"]!.AsArray().Select(v => v!.GetValue<double>()).ToList();
            Assert.Equal(3, probabilities.Count);
            Assert.Equal(1, probabilities.Sum(), 4);
        });
    }
}
