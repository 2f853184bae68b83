namespace Pipeline.Core.Engine;

/// <summary>
/// A stage that keeps saved state between runs (Train's checkpoints) and continues from it when only an extendable
/// parameter grew: it says what a run would continue from, so the engine's reason says what will really happen.
/// </summary>
public interface IResumable
{
    /// <summary>
    /// What a run under <paramref name="resumeKey"/> (<see cref="StageRun.ResumeKey"/>) would continue from
    /// ("ckpt-00001000.ckpt at step 1000"), or null when it has nothing of that computation and starts over.
    /// </summary>
    string? ResumePoint(string resumeKey);
}
