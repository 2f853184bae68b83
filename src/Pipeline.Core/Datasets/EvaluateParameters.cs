namespace Pipeline.Core.Datasets;

/// <summary>The "evaluate" section of dataset.json.</summary>
public sealed record EvaluateParameters
{
    /// <summary>The split the final metrics are computed on; default "test" if the records have one, else "validation".</summary>
    public string? Split { get; init; }

    public int BatchSize { get; init; } = 256;
}
