using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
using Pipeline.Serving.Export;
using Pipeline.Training.Evaluation;
using Pipeline.Training.Train;

namespace Pipeline.Training.Export;

/// <summary>
/// Gates the evaluated model on export.min_accuracy, then writes it as a servable, numbered version under export/:
/// model.onnx (our own exporter), model.safetensors (TorchVision-loadable weights), labels.txt and model.json (the
/// model card). A new version appears only when that content changes; export/latest names the newest.
/// </summary>
public sealed class ExportStage : IStage
{
    public const string Output = "export";

    /// <summary>The newest version, as a server loads it: export/latest and that version's files (just the pointer while there is none).</summary>
    public static readonly StageOutputs Outputs = new("export", Output, folder =>
        LatestOrNull(folder) is { } version
            ? [ExportedModel.LatestPointer, .. new[] { ModelCard.FileName, ModelCard.OnnxFile, ModelCard.WeightsFile, ModelCard.LabelsFile }
                .Select(file => $"{version.ToString(CultureInfo.InvariantCulture)}/{file}")]
            : [ExportedModel.LatestPointer]);

    private readonly StageContext _context;

    public ExportStage(StageContext context) => _context = context;

    public string Name => Outputs.Stage;

    public int ImplementationVersion => 1;

    internal string TrainFolder => Path.Combine(_context.ArtifactsDirectory, TrainStage.Output);

    internal string MetricsPath => Path.Combine(_context.ArtifactsDirectory, EvaluateStage.Output, EvaluateStage.MetricsName);

    internal string LabelsPath => Path.Combine(_context.ArtifactsDirectory, LabelsStage.Output);

    public StageDeclaration Declare() => new(
        [
            StageInput.OutputsOf(LabelsStage.Outputs, _context.ArtifactsDirectory),
            StageInput.OutputsOf(TrainStage.Outputs, _context.ArtifactsDirectory, TrainedModel.WeightsName, TrainedModel.CardName),
            StageInput.OutputsOf(EvaluateStage.Outputs, _context.ArtifactsDirectory),
        ],
        Parameters(_context.Dataset),
        [Output])
    {
        // The output keeps the versions already exported, which no fingerprint covers.
        Cacheable = false,
    };

    public void Run(StageRun run) => ExportRunner.Run(_context, run, this);

    /// <summary>The parameters Export's fingerprint covers: export, and inference when the dataset has it (the graph does what it says).</summary>
    internal static JsonObject Parameters(DatasetDefinition dataset)
    {
        var parameters = new JsonObject { ["export"] = JsonSerializer.SerializeToNode(dataset.Export, DatasetLoader.Options) };
        if (dataset.Inference is { } inference)
        {
            parameters["inference"] = JsonSerializer.SerializeToNode(inference, DatasetLoader.Options);
        }
        return parameters;
    }

    /// <summary>The version export/latest names, or null while there is none (or it is unreadable: then SmokePredict says why).</summary>
    private static int? LatestOrNull(string folder)
    {
        try
        {
            return ExportedModel.Latest(folder);
        }
        catch (PipelineException)
        {
            return null;
        }
    }
}
