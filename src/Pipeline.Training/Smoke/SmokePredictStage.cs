using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Training.Export;

namespace Pipeline.Training.Smoke;

/// <summary>
/// Loads the latest exported version through the serving path only (ONNX Runtime, no training code), predicts a
/// sample of held-out images from their source files, and checks the answers: smoke/report.json. Any failed check
/// fails the build. Run by the build, it runs in a process of its own, as a server would.
/// </summary>
public sealed class SmokePredictStage : IStage
{
    public const string Output = "smoke";
    public const string ReportName = "report.json";

    private readonly StageContext _context;

    public SmokePredictStage(StageContext context) => _context = context;

    public string Name => "smokepredict";

    public int ImplementationVersion => 2;

    internal string ExportFolder => Path.Combine(_context.ArtifactsDirectory, ExportStage.Output);

    /// <summary>The held-out split: evaluate.split, else test, else validation.</summary>
    internal string Split => _context.Dataset.Evaluate.Split
        ?? (_context.Source.Splits.Contains("test") ? "test" : _context.Source.Splits.Contains("validation") ? "validation"
            : throw new PipelineException($"the dataset has no validation or test split to check predictions on (it has {string.Join(", ", _context.Source.Splits)})",
                _context.Dataset.DefinitionPath));

    public StageDeclaration Declare()
    {
        return new StageDeclaration(
            [StageInput.OutputsOf(ExportStage.Outputs, _context.ArtifactsDirectory), .. _context.Source.ExampleInputs(Split)],
            new JsonObject
            {
                ["smoke"] = JsonSerializer.SerializeToNode(_context.Dataset.Smoke, DatasetLoader.Options),
                ["split"] = Split,
            },
            [Output]);
    }

    public void Run(StageRun run) => SmokePredictRunner.Run(_context, run, this);
}
