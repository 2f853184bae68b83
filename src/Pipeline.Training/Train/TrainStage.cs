using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
using Pipeline.Core.Records;

namespace Pipeline.Training.Train;

/// <summary>
/// Trains the dataset's model from scratch on the Records stage's shards (never the raw images), with the train-and-evaluate
/// loop, checkpoints it resumes from, and TensorBoard logs. Writes train/model.bin, model.json and history.json.
/// </summary>
/// <remarks>
/// Checkpoints (artifacts/&lt;dataset&gt;/checkpoints/) and TensorBoard logs live outside the stage's outputs: they
/// must survive a killed run to be resumed from. Declare() touches no TorchSharp type, so Cake's process can
/// check freshness without loading libtorch.
/// </remarks>
public sealed class TrainStage : IStage, IResumable, IReportsMetrics
{
    public const string Output = "train";

    /// <summary>The trained model, whichever stage trained it (this one, or the transfer chain's HeadTrainStage).</summary>
    public static readonly StageOutputs Outputs = new("train", Output, _ => [TrainedModel.WeightsName, TrainedModel.CardName, TrainedModel.HistoryName]);

    /// <summary>artifacts/&lt;dataset&gt;/checkpoints/: not an output, since it must outlive a killed run.</summary>
    internal const string CheckpointsFolder = "checkpoints";

    /// <summary>artifacts/&lt;dataset&gt;/train-job.json: the training a distributed Train stage's ranks read, there while they run.</summary>
    internal const string JobFileName = "train-job.json";

    private readonly StageContext _context;

    public TrainStage(StageContext context) => _context = context;

    public string Name => Outputs.Stage;

    public int ImplementationVersion => 1;

    private string RecordsFolder => Path.Combine(_context.ArtifactsDirectory, RecordsStage.Output);

    private string LabelsPath => Path.Combine(_context.ArtifactsDirectory, LabelsStage.Output);

    public StageDeclaration Declare() => new(
        [StageInput.OutputsOf(LabelsStage.Outputs, _context.ArtifactsDirectory), StageInput.OutputsOf(RecordsStage.Outputs, _context.ArtifactsDirectory)],
        new JsonObject { ["train"] = Parameters(_context.Dataset.Train) },
        [Output])
    {
        Extendable = ["train.train_steps", "train.epochs"],
    };

    /// <summary>
    /// The train section as the stage's parameters. The number of processes changes the results (batch normalization's
    /// statistics and dropout's draws are per process), so it counts; what starts them does not. A training of one
    /// process leaves the section out, so its fingerprint is the one it had before training could be distributed.
    /// </summary>
    internal static JsonNode Parameters(TrainParameters train)
    {
        var node = JsonSerializer.SerializeToNode(train, DatasetLoader.Options)!.AsObject();
        if (train.Distributed.Processes == 1)
        {
            node.Remove("distributed");
        }
        else
        {
            node["distributed"] = new JsonObject { ["processes"] = train.Distributed.Processes };
        }
        return node;
    }

    /// <summary>The newest intact checkpoint of this very training, which a run continues from; null when it trains from the start.</summary>
    public string? ResumePoint(string resumeKey)
    {
        var checkpoints = new CheckpointStore(Path.Combine(_context.ArtifactsDirectory, CheckpointsFolder), _context.Dataset.Train.KeepCheckpoints, _ => { });
        return checkpoints.Latest(resumeKey, int.MaxValue) is { } latest ? $"{latest.Name} at step {latest.Step}" : null;
    }

    public void Run(StageRun run) => TrainRunner.Run(_context, run, RecordsFolder, LabelsPath);

    public JsonObject? Metrics() => LastEvaluation(Path.Combine(_context.ArtifactsDirectory, Output));

    /// <summary>The last row of train/history.json as metrics (train and train-time evaluation loss and accuracy); null without one.</summary>
    internal static JsonObject? LastEvaluation(string trainFolder)
    {
        try
        {
            var last = HistoryJson.Read(Path.Combine(trainFolder, TrainedModel.HistoryName)).LastOrDefault();
            return last is null ? null : new JsonObject
            {
                ["eval_accuracy"] = last.EvalAccuracy,
                ["eval_loss"] = last.EvalLoss,
                ["train_accuracy"] = last.TrainAccuracy,
                ["train_loss"] = last.TrainLoss,
                ["steps"] = last.Step,
            };
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }
}
