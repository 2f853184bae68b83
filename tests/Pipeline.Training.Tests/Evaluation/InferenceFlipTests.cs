using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Records;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;
using Pipeline.Training.Evaluation;
using Pipeline.Training.Input;
using Pipeline.Training.Tests.TestSupport;
using Pipeline.Training.Train;

namespace Pipeline.Training.Tests.Evaluation;

/// <summary>inference.flip end to end: the served model averages each image with its mirror image, and Train is left alone.</summary>
[Collection(TorchRandomCollection.Name)]
public sealed class InferenceFlipTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Turning_on_flip_re_runs_evaluate_and_export_but_not_train_and_every_prediction_averages_the_mirror_image()
    {
        var name = ShapesDataset.Write(_dir, train: 120, test: 60, sections: "\"export\": { \"min_accuracy\": 0.4 }, \"smoke\": { \"samples\": 30 },");
        var pipeline = DatasetPipeline.Open(_dir.Path, name, _ => { }, laterStages: TrainingStages.All);
        pipeline.Build("smokepredict", new BuildOptions());
        var definition = _dir.Combine($"datasets/{name}/dataset.json");
        File.WriteAllText(definition, File.ReadAllText(definition).Replace("\"evaluate\":", "\"inference\": { \"flip\": true }, \"evaluate\":", StringComparison.Ordinal));
        pipeline = DatasetPipeline.Open(_dir.Path, name, _ => { }, laterStages: TrainingStages.All);

        var outcomes = pipeline.Build("smokepredict", new BuildOptions());

        var ran = outcomes.Where(o => o.Ran).Select(o => o.StatusBefore.Stage).ToList();
        Assert.Equal(["evaluate", "export", "smokepredict"], ran);

        // Evaluate measured the model with the flip: its loss is the flipped one, not the network's alone.
        var card = TrainedModel.Read(Path.Combine(pipeline.ArtifactsDirectory, TrainStage.Output));
        var records = RecordsManifest.Read(Path.Combine(pipeline.ArtifactsDirectory, RecordsStage.Output));
        var weights = Path.Combine(pipeline.ArtifactsDirectory, TrainStage.Output, TrainedModel.WeightsName);
        double Loss(bool flip) => EvaluateRunner.Measure(card, weights, 3,
            new RecordPipeline(records.ShardPaths("test"), card.Input, new PipelineOptions(32, 1, 0, null, Workers: 1)), flip, CancellationToken.None).MeanLoss;
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, EvaluateStage.Output, EvaluateStage.MetricsName)))!;
        Assert.Equal(Math.Round(Loss(flip: true), 6), metrics["loss"]!.GetValue<double>(), 5);
        Assert.NotEqual(Math.Round(Loss(flip: false), 6), metrics["loss"]!.GetValue<double>(), 5);

        // The export says so and its graph does it: SmokePredict (above) compared the graph's probabilities with
        // TorchSharp's flipped ones on 30 images and passed.
        var exported = ExportedModel.Open(Path.Combine(pipeline.ArtifactsDirectory, "export"));
        Assert.True(exported.Card.Flip);
        Assert.Contains("\"flip\": true", File.ReadAllText(Path.Combine(exported.Folder, ModelCard.FileName)), StringComparison.Ordinal);
    }
}
