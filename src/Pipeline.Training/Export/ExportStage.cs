using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
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

    private readonly StageContext _context;

    public ExportStage(StageContext context) => _context = context;

    public string Name => "export";

    public int ImplementationVersion => 1;

    internal string TrainFolder => Path.Combine(_context.ArtifactsDirectory, TrainStage.Output);

    internal string MetricsPath => Path.Combine(_context.ArtifactsDirectory, EvaluateStage.Output, EvaluateStage.MetricsName);

    internal string LabelsPath => Path.Combine(_context.ArtifactsDirectory, LabelsStage.Output);

    public StageDeclaration Declare() => new(
        [
            StageInput.File("labels.txt", LabelsPath),
            StageInput.File($"{TrainStage.Output}/{TrainedModel.WeightsName}", Path.Combine(TrainFolder, TrainedModel.WeightsName)),
            StageInput.File($"{TrainStage.Output}/{TrainedModel.CardName}", Path.Combine(TrainFolder, TrainedModel.CardName)),
            StageInput.File($"{EvaluateStage.Output}/{EvaluateStage.MetricsName}", MetricsPath),
        ],
        new JsonObject { ["export"] = JsonSerializer.SerializeToNode(_context.Dataset.Export, DatasetLoader.Options) },
        [Output])
    {
        // The output keeps the versions already exported, which no fingerprint covers.
        Cacheable = false,
    };

    public void Run(StageRun run) => ExportRunner.Run(_context, run, this);
}
