using System.Text.Json.Nodes;

namespace Pipeline.Core.Engine;

/// <summary>The data half of a stage: what it reads, the parameters it depends on, and what it writes.</summary>
/// <param name="Inputs">Everything whose content the outputs depend on.</param>
/// <param name="Parameters">The stage's own part of dataset.json (plus anything else it reads), as JSON.</param>
/// <param name="Outputs">Paths relative to the dataset's artifacts folder: files, or folders written whole.</param>
public sealed record StageDeclaration(
    IReadOnlyList<StageInput> Inputs,
    JsonObject Parameters,
    IReadOnlyList<string> Outputs)
{
    /// <summary>
    /// Parameter paths ("train.train_steps") that can grow without starting over: the stage continues from its
    /// saved state, and the engine says so. They are left out of <see cref="StageRun.ResumeKey"/>.
    /// </summary>
    public IReadOnlyList<string> Extendable { get; init; } = [];

    /// <summary>
    /// Parameter paths ("part") that say which share of the work this run does, when several workers split a stage.
    /// They are left out of <see cref="StageRun.ResumeKey"/>, so every worker's share and the whole run carry the
    /// same key: proof that the shares were computed from the same inputs and parameters and can be combined.
    /// </summary>
    public IReadOnlyList<string> Partitioning { get; init; } = [];

    /// <summary>
    /// Whether the run-cache may store and restore this stage's outputs. False for a stage whose outputs depend on
    /// more than its inputs and parameters (Export keeps the version history already in its output folder).
    /// </summary>
    public bool Cacheable { get; init; } = true;

    /// <summary>Every input as the engine hashes it and the lock file names it: an upstream stage's outputs as their files.</summary>
    public IReadOnlyList<StageInput> Hashed => [.. Inputs.SelectMany(i => i is UpstreamInput upstream ? upstream.Files : (IEnumerable<StageInput>)[i])];

    /// <summary>The stages of the chain whose outputs this one reads, each once.</summary>
    public IReadOnlyList<string> Upstream => [.. Inputs.OfType<UpstreamInput>().Select(u => u.Stage).Distinct(StringComparer.Ordinal)];
}
