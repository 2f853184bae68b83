using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
using Pipeline.Core.Records;
using Pipeline.Training.Train;

namespace Pipeline.Training.Transfer;

/// <summary>
/// The Train stage of a dataset with a "transfer" section: a new classifier (the head) trained on the Bottlenecks
/// stage's output, retrain.py's way, and with transfer.fine_tune the backbone's last block after it. Writes what
/// <see cref="TrainStage"/> writes (train/model.bin, model.json, history.json), so the stages after it take either.
/// </summary>
public sealed class HeadTrainStage : IStage, IReportsMetrics
{
    private readonly StageContext _context;

    public HeadTrainStage(StageContext context) => _context = context;

    /// <summary>The chain's train stage, whichever way a dataset trains.</summary>
    public string Name => TrainStage.Outputs.Stage;

    public int ImplementationVersion => 1;

    private string BottlenecksFolder => Path.Combine(_context.ArtifactsDirectory, BottlenecksStage.Output);

    private string LabelsPath => Path.Combine(_context.ArtifactsDirectory, LabelsStage.Output);

    public StageDeclaration Declare()
    {
        var transfer = _context.Dataset.Transfer!;
        // Fine-tuning the backbone's last block also reads the images and the backbone's weights.
        return new StageDeclaration(
            [
                StageInput.OutputsOf(LabelsStage.Outputs, _context.ArtifactsDirectory),
                StageInput.OutputsOf(BottlenecksStage.Outputs, _context.ArtifactsDirectory),
                .. transfer.FineTune is null ? [] : Backbones.Inputs(_context.Dataset, _context.ArtifactsDirectory)
                    .Prepend(StageInput.OutputsOf(RecordsStage.Outputs, _context.ArtifactsDirectory)),
            ],
            new JsonObject { ["transfer"] = JsonSerializer.SerializeToNode(transfer, DatasetLoader.Options) },
            [TrainStage.Output]);
    }

    public void Run(StageRun run) => HeadTrainer.Run(_context, run, BottlenecksFolder, LabelsPath);

    public JsonObject? Metrics() => TrainStage.LastEvaluation(Path.Combine(_context.ArtifactsDirectory, TrainStage.Output));
}
