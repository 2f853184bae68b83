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

    [Theory]
    [InlineData("cnn")]
    [InlineData("transfer")]
    [InlineData("fine-tune")]
    public void Every_stage_reads_the_outputs_of_stages_before_it_in_its_chain_and_only_those(string kind)
    {
        var name = kind switch
        {
            "cnn" => ShapesDataset.Write(_dir),
            "transfer" => ShapesDataset.WriteTransfer(_dir, perClass: 2),
            _ => ShapesDataset.WriteTransfer(_dir, perClass: 2, from: "dataset:shapes", transfer: "\"fine_tune\": { \"steps\": 4 },"),
        };
        var stages = DatasetPipeline.Open(_dir.Path, name, _ => { }, laterStages: TrainingStages.All).Stages;

        var upstream = stages.ToDictionary(s => s.Name, s => s.Declare().Upstream);

        for (var i = 0; i < stages.Count; i++)
        {
            Assert.All(upstream[stages[i].Name], u => Assert.Contains(u, stages.Take(i).Select(s => s.Name)));
        }
        Assert.Empty(upstream["labels"]);
        Assert.Equal(["labels"], upstream["records"]);
        Assert.Equal(kind == "cnn" ? ["labels", "records"] : kind == "transfer" ? ["labels", "bottlenecks"] : ["labels", "bottlenecks", "records"], upstream["train"]);
        Assert.Equal(["labels", "train", kind == "transfer" ? "bottlenecks" : "records"], upstream["evaluate"]);
        Assert.Equal(["labels", "train", "evaluate"], upstream["export"]);
        Assert.Equal(["export"], upstream["smokepredict"]);
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
