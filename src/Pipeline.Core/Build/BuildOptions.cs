namespace Pipeline.Core.Build;

/// <summary>How <see cref="DatasetPipeline.Build(string, BuildOptions)"/> builds a target.</summary>
public sealed record BuildOptions
{
    /// <summary>Re-run the target stage even if it is fresh (the stages before it still skip when fresh).</summary>
    public bool Force { get; init; }

    /// <summary>
    /// Build only the target stage, not the stages before it nor the dataset it transfers from: the caller (Cake's task
    /// graph) has built those and said why this one runs; the check is still repeated under the artifacts lock.
    /// </summary>
    public bool Only { get; init; }

    /// <summary>Also build the dataset this one transfers from ("dataset:NAME") up to its export, first, when the target needs it.</summary>
    public bool Upstream { get; init; } = true;

    public CancellationToken Cancellation { get; init; }
}
