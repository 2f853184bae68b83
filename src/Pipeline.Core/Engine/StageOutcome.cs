namespace Pipeline.Core.Engine;

/// <summary>What <see cref="StageEngine.Run"/> did: skipped a fresh stage or rebuilt it, and why.</summary>
/// <param name="Restored">The outputs came from the run-cache instead of running the stage.</param>
public sealed record StageOutcome(StageStatus StatusBefore, bool Ran, bool OutputsChanged, TimeSpan Elapsed, bool Restored = false);
