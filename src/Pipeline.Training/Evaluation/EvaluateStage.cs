using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
using Pipeline.Core.Records;
using Pipeline.Training.Train;

namespace Pipeline.Training.Evaluation;

/// <summary>
/// Measures the trained model on every example of the test split: eval/metrics.json, eval/curves.png (loss and
/// accuracy against step) and eval/confusion.png, and a short summary for the person at the terminal.
/// </summary>
public sealed class EvaluateStage : IStage
{
    public const string Output = "eval";
    public const string MetricsName = "metrics.json";

    private readonly StageContext _context;

    public EvaluateStage(StageContext context) => _context = context;

    public string Name => "evaluate";

    public int ImplementationVersion => 1;

    private string TrainFolder => Path.Combine(_context.ArtifactsDirectory, TrainStage.Output);

    private string RecordsFolder => Path.Combine(_context.ArtifactsDirectory, RecordsStage.Output);

    public StageDeclaration Declare()
    {
        var inputs = new List<StageInput>
        {
            StageInput.File("labels.txt", Path.Combine(_context.ArtifactsDirectory, LabelsStage.Output)),
            StageInput.File($"{TrainStage.Output}/{TrainedModel.WeightsName}", Path.Combine(TrainFolder, TrainedModel.WeightsName)),
            StageInput.File($"{TrainStage.Output}/{TrainedModel.CardName}", Path.Combine(TrainFolder, TrainedModel.CardName)),
            StageInput.File($"{TrainStage.Output}/{TrainedModel.HistoryName}", Path.Combine(TrainFolder, TrainedModel.HistoryName)),
        };
        // A transferred head is measured on the bottlenecks; any other model (a fine-tuned one too) on the records.
        inputs.AddRange(_context.Dataset.Transfer is { FineTune: null }
            ? Transfer.BottlenecksStage.OutputFiles(Path.Combine(_context.ArtifactsDirectory, Transfer.BottlenecksStage.Output))
            : TrainStage.RecordInputs(RecordsFolder));
        return new StageDeclaration(
            inputs,
            new JsonObject
            {
                ["evaluate"] = JsonSerializer.SerializeToNode(_context.Dataset.Evaluate, DatasetLoader.Options),
                // The plots' titles name the dataset: a copy under another name must not restore them from the run-cache.
                ["dataset"] = _context.Dataset.Name,
            },
            [Output]);
    }

    public void Run(StageRun run) => EvaluateRunner.Run(_context, run, TrainFolder, RecordsFolder,
        Path.Combine(_context.ArtifactsDirectory, Transfer.BottlenecksStage.Output));
}
