using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Evaluation;
using Pipeline.Training.Models;
using Pipeline.Training.Tests.TestSupport;
using Pipeline.Training.Training;
using Snapshooter.Xunit;
using TorchSharp;

namespace Pipeline.Training.Tests.Evaluation;

[Collection(TorchRandomCollection.Name)]
public sealed class EvaluateStageTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Metrics_json_of_a_fixed_tiny_model_matches_the_committed_snapshot()
    {
        var name = ShapesDataset.Write(_dir, train: 30, test: 30);
        var pipeline = DatasetPipeline.Open(_dir.Path, name, _ => { }, laterStages: TrainingStages.All);
        pipeline.Run("labels", false);
        pipeline.Run("records", false);

        // A fixed model instead of a trained one: the seeded initial weights, written where Train would put them.
        var train = new TrainParameters { Model = "cnn", InputSize = 16, Channels = 1, Normalization = new() { Mean = [0.2], Std = [0.35] } };
        torch.manual_seed(7);
        using (var model = ModelFactory.Create(train, ShapesDataset.Classes.Length))
        {
            var folder = Path.Combine(pipeline.ArtifactsDirectory, TrainStage.Output);
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, TrainedModel.WeightsName), Trainer.ModelBytes(model));
            var card = TrainedModel.From(train, 1, ShapesDataset.Classes, "fixed");
            File.WriteAllText(Path.Combine(folder, TrainedModel.CardName), CanonicalJson.Serialize(card.ToJson(), indented: true));
            File.WriteAllText(Path.Combine(folder, TrainedModel.HistoryName), "[]");
        }

        pipeline.Engine.Run(pipeline.Stage("evaluate"));

        var metrics = File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, EvaluateStage.Output, EvaluateStage.MetricsName));
        Snapshot.Match(metrics);
        Assert.Contains("\"examples\": 30", metrics);
    }
}
