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

    /// <summary>
    /// Never compute a stage: a stale one is restored from the run-cache (local, then remote) or the build stops naming
    /// it. A stage that is never cached (Export, which keeps the versions already exported) is still written, from the
    /// restored stages' outputs. What `pipeline cache pull` does.
    /// </summary>
    public bool RestoreOnly { get; init; }

    /// <summary>
    /// Record the build in the experiments log even if every stage was fresh (an explicit `pipeline exp run`); otherwise a
    /// build is recorded when a stage ran or was restored and the chain reaches Train.
    /// </summary>
    public bool Record { get; init; }

    public CancellationToken Cancellation { get; init; }
}
