using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Tests.TestSupport;
using Snapshooter.Xunit;

namespace Pipeline.Training.Tests;

/// <summary>
/// The names of the inputs each stage declares are the keys of its lock entry: renaming one, or adding or dropping
/// one, makes every dataset already built stale, and its next build trains again. They change only on purpose, with
/// the snapshot.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public sealed class StageInputNamesTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Gates that let a briefly trained model through Export and SmokePredict.</summary>
    private const string Lenient = "\"export\": { \"min_accuracy\": 0 }, \"smoke\": { \"accuracy_tolerance\": 1 },";

    [Fact]
    public void Built_chains_record_each_stage_with_the_inputs_it_has_always_had()
    {
        var names = new[]
        {
            ShapesDataset.Write(_dir, train: 60, test: 30, sections: Lenient),
            ShapesDataset.WriteTransfer(_dir, perClass: 3, from: "dataset:shapes", sections: Lenient, name: "shapes-head"),
            ShapesDataset.WriteTransfer(_dir, perClass: 3, from: "dataset:shapes", sections: Lenient, name: "shapes-tune",
                transfer: "\"fine_tune\": { \"steps\": 4, \"batch_size\": 6 },"),
        };
        var lines = new List<string>();
        foreach (var name in names)
        {
            var pipeline = DatasetPipeline.Open(_dir.Path, name, _ => { }, laterStages: TrainingStages.All);
            pipeline.Build("smokepredict", new BuildOptions());
            var lockFile = LockFile.Load(pipeline.Engine.LockPath);
            lines.Add($"{name}:");
            foreach (var stage in pipeline.Stages)
            {
                Assert.True(pipeline.Engine.Check(stage).IsFresh, $"{name} {stage.Name}");
                lines.Add($"  {stage.Name}:");
                lines.AddRange(lockFile.Find(stage.Name)!.Inputs.Keys.Select(input => $"    {input}").Order(StringComparer.Ordinal));
            }
        }

        Snapshot.Match(string.Join('\n', lines));
    }
}
