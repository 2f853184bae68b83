namespace Pipeline.Core.Datasets;

/// <summary>The "export" section of dataset.json.</summary>
public sealed record ExportParameters
{
    /// <summary>
    /// The quality gate: the evaluated top-1 accuracy (eval/metrics.json) must reach this, or nothing is exported,
    /// as TFX's Evaluator blesses a model before the Pusher ships it. 0 exports any model.
    /// </summary>
    public double MinAccuracy { get; init; }
}
