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
/// Measures the trained model on every example of the test split: eval/metrics.json, eval/mistakes.json (the most
/// confidently wrong examples, with their images, for the report), eval/curves.png (loss and accuracy against step)
/// and eval/confusion.png, and a short summary for the person at the terminal.
/// </summary>
public sealed class EvaluateStage : IStage, IReportsMetrics
{
    public const string Output = "eval";
    public const string MetricsName = "metrics.json";

    /// <summary>The metrics Export gates on.</summary>
    public static readonly StageOutputs Outputs = new("evaluate", Output, _ => [MetricsName]);

    private readonly StageContext _context;

    public EvaluateStage(StageContext context) => _context = context;

    public string Name => Outputs.Stage;

    /// <summary>
    /// 2: eval/mistakes.json, the most confidently wrong examples with their images, for the report. 3: metrics.json's
    /// held_out, training's last evaluation beside the test split's figures.
    /// </summary>
    public int ImplementationVersion => 3;

    private string TrainFolder => Path.Combine(_context.ArtifactsDirectory, TrainStage.Output);

    private string RecordsFolder => Path.Combine(_context.ArtifactsDirectory, RecordsStage.Output);

    public StageDeclaration Declare()
    {
        var artifacts = _context.ArtifactsDirectory;
        return new StageDeclaration(
            [
                StageInput.OutputsOf(LabelsStage.Outputs, artifacts),
                StageInput.OutputsOf(TrainStage.Outputs, artifacts),
                // A transferred head is measured on the bottlenecks; any other model (a fine-tuned one too) on the records.
                StageInput.OutputsOf(_context.Dataset.Transfer is { FineTune: null } ? Transfer.BottlenecksStage.Outputs : RecordsStage.Outputs, artifacts),
            ],
            new JsonObject
            {
                ["evaluate"] = JsonSerializer.SerializeToNode(_context.Dataset.Evaluate, DatasetLoader.Options),
                // The plots' titles name the dataset: a copy under another name must not restore them from the run-cache.
                ["dataset"] = _context.Dataset.Name,
            },
            [Output]);
    }

    /// <summary>From eval/metrics.json: accuracy, top-5 accuracy, mean loss, the split and its size.</summary>
    public JsonObject? Metrics()
    {
        try
        {
            var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(_context.ArtifactsDirectory, Output, MetricsName))) as JsonObject;
            var figures = new JsonObject();
            foreach (var key in new[] { "accuracy", "top5_accuracy", "loss", "split", "examples" })
            {
                if (metrics?[key] is { } value)
                {
                    figures[key] = value.DeepClone();
                }
            }
            return figures;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    public void Run(StageRun run) => EvaluateRunner.Run(_context, run, TrainFolder, RecordsFolder,
        Path.Combine(_context.ArtifactsDirectory, Transfer.BottlenecksStage.Output));
}
