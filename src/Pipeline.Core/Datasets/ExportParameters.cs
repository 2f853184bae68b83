namespace Pipeline.Core.Datasets;

/// <summary>The "export" section of dataset.json.</summary>
public sealed record ExportParameters
{
    /// <summary>
    /// The quality gate: the evaluated top-1 accuracy (eval/metrics.json) must reach this, or nothing is exported,
    /// as TFX's Evaluator blesses a model before the Pusher ships it. 0 exports any model.
    /// </summary>
    public double MinAccuracy { get; init; }

    /// <summary>What <see cref="Baseline"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Baselines = ["latest"];

    /// <summary>
    /// A second gate, against the model served now: "latest" refuses a model whose accuracy is more than
    /// <see cref="MaxDrop"/> below that of the newest exported version (its model card's). Absent: no comparison.
    /// </summary>
    public string? Baseline { get; init; }

    /// <summary>
    /// With a baseline: how far below the baseline's accuracy a new model may be (a fraction, e.g. 0.002); absent
    /// means 0. Optional rather than 0 by default, so that datasets without it keep their Export fingerprint.
    /// </summary>
    public double? MaxDrop { get; init; }
}
