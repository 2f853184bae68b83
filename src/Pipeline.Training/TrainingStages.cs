using Pipeline.Core.Build;
using Pipeline.Training.Train;

namespace Pipeline.Training;

/// <summary>The stages this assembly adds to a dataset's chain, after Records.</summary>
public static class TrainingStages
{
    /// <summary>Every stage this assembly can add, in build order; a dataset's chain has them all but Bottlenecks unless it transfers.</summary>
    public static readonly IReadOnlyList<string> Names = ["bottlenecks", "train", "evaluate", "export", "smokepredict"];

    public static readonly IReadOnlyList<StageFactory> All =
    [
        context => context.Dataset.Transfer is null ? null : new Transfer.BottlenecksStage(context),
        // A transfer dataset trains a head on the bottlenecks; any other trains its model from the records.
        context => context.Dataset.Transfer is null ? new TrainStage(context) : new Transfer.HeadTrainStage(context),
        context => new Evaluation.EvaluateStage(context),
        context => new Export.ExportStage(context),
        context => new Smoke.SmokePredictStage(context),
    ];
}
