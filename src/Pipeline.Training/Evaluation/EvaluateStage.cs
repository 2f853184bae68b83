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
    /// held_out, training's last evaluation beside the test split's figures. 4: held_out measured here, on the model
    /// as it predicts, rather than read from training's history.
    /// </summary>
    public int ImplementationVersion => 4;

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
            Parameters(_context.Dataset),
            [Output]);
    }

    /// <summary>The parameters Evaluate's fingerprint covers: evaluate, the dataset's name, and inference when the dataset has it.</summary>
    internal static JsonObject Parameters(DatasetDefinition dataset)
    {
        var parameters = new JsonObject
        {
            ["evaluate"] = JsonSerializer.SerializeToNode(dataset.Evaluate, DatasetLoader.Options),
            // The plots' titles name the dataset: a copy under another name must not restore them from the run-cache.
            ["dataset"] = dataset.Name,
        };
        if (dataset.Inference is { } inference)
        {
            parameters["inference"] = JsonSerializer.SerializeToNode(inference, DatasetLoader.Options);
        }
        return parameters;
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
