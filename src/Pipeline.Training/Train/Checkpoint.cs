namespace Pipeline.Training.Train;

/// <summary>A checkpoint file found on disk and verified: its step, the training it belongs to, and its history.</summary>
/// <param name="Path">The file.</param>
/// <param name="Step">Optimizer steps done when it was written.</param>
/// <param name="Lineage">Fingerprint of everything that shapes the weights except train_steps: a checkpoint of
/// another lineage (another learning rate, other records) is never resumed from.</param>
/// <param name="History">The train-and-evaluate history up to <paramref name="Step"/>.</param>
/// <param name="Model">The model's saved state.</param>
/// <param name="Optimizer">The optimizer's saved state (momenta, Adam moments).</param>
public sealed record Checkpoint(
    string Path,
    int Step,
    string Lineage,
    IReadOnlyList<HistoryPoint> History,
    ReadOnlyMemory<byte> Model,
    ReadOnlyMemory<byte> Optimizer)
{
    public string Name => System.IO.Path.GetFileName(Path);
}
