using Pipeline.Core.Build;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Tests.TestSupport;

namespace Pipeline.Training.Tests;

/// <summary>The stage names build.cake makes its tasks from are the stages the chains really have, in their order.</summary>
public sealed class TrainingStagesTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Every_chain_is_the_named_stages_in_their_order_with_bottlenecks_only_when_it_transfers()
    {
        var names = DatasetPipeline.FirstStages.Concat(TrainingStages.Names).ToList();
        var trains = DatasetPipeline.Open(_dir.Path, ShapesDataset.Write(_dir), _ => { }, laterStages: TrainingStages.All);
        var transfers = DatasetPipeline.Open(_dir.Path, ShapesDataset.WriteTransfer(_dir, perClass: 2), _ => { }, laterStages: TrainingStages.All);

        Assert.Equal(names.Where(n => n != "bottlenecks"), trains.Stages.Select(s => s.Name));
        Assert.Equal(names, transfers.Stages.Select(s => s.Name));
    }

    [Fact]
    public void Datasets_that_transfer_from_each_other_are_refused_as_a_cycle_before_anything_is_built()
    {
        ShapesDataset.WriteTransfer(_dir, perClass: 2, from: "dataset:shapes-b", name: "shapes-a");
        ShapesDataset.WriteTransfer(_dir, perClass: 2, from: "dataset:shapes-a", name: "shapes-b");
        var pipeline = DatasetPipeline.Open(_dir.Path, "shapes-a", _ => { }, laterStages: TrainingStages.All);

        var error = Assert.Throws<Core.Engine.PipelineException>(() => pipeline.Build("train", new BuildOptions()));

        Assert.Contains("transfer.from forms a cycle: shapes-a → shapes-b → shapes-a", error.Message);
        Assert.False(Directory.Exists(Path.Combine(pipeline.ArtifactsDirectory, "records")));
    }
}
