using Pipeline.Core.Build;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Evaluation;
using Pipeline.Training.Tests.TestSupport;
using Snapshooter.Xunit;

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

        FixedModel.WriteTrained(pipeline);

        pipeline.Engine.Run(pipeline.Stage("evaluate"));

        var metrics = File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, EvaluateStage.Output, EvaluateStage.MetricsName));
        Snapshot.Match(metrics);
        Assert.Contains("\"examples\": 30", metrics);
    }
}
