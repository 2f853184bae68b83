namespace Pipeline.Core.Engine;

/// <summary>What <see cref="StageEngine.Run"/> did: skipped a fresh stage or rebuilt it, and why.</summary>
public sealed record StageOutcome(StageStatus StatusBefore, bool Ran, bool OutputsChanged, TimeSpan Elapsed);
