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
}
