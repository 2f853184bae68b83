using Pipeline.Core.Distributed;
using Pipeline.Training.Input;
using static TorchSharp.torch;

namespace Pipeline.Training.Distributed;

/// <summary>
/// This process's place in a data-parallel training: its rank's share of every batch, the gradient exchange, and the
/// sums every rank needs the same of (held-out loss and accuracy, the train window). Rank 0 is the lead: the one
/// that logs, writes checkpoints and writes the stage's outputs.
/// </summary>
public sealed class DataParallel : IDisposable
{
    private readonly Mpi _mpi;
    private GradientAverager? _averager;

    public DataParallel(Mpi mpi)
    {
        ArgumentNullException.ThrowIfNull(mpi);
        _mpi = mpi;
        Share = new RankShare(mpi.Rank, mpi.Size);
    }

    public int Rank => _mpi.Rank;

    public int Size => _mpi.Size;

    public bool IsLead => _mpi.Rank == 0;

    /// <summary>The ranks on this machine, which share its cores.</summary>
    public int LocalSize => _mpi.LocalSize;

    /// <summary>This rank's rows of every batch.</summary>
    public RankShare Share { get; }

    /// <summary>Bytes each rank sends per step (every gradient as a float32); 0 before <see cref="Attach"/>.</summary>
    public long BytesPerStep => _averager?.BytesPerStep ?? 0;

    /// <summary>Time spent in the gradients' allreduce so far, waiting for the slowest rank included.</summary>
    public TimeSpan Exchanging => _averager?.Exchanging ?? TimeSpan.Zero;

    /// <summary>
    /// Starts the exchange for <paramref name="model"/> and gives every rank rank 0's weights. Every rank must have
    /// resumed from the same step (the same checkpoint); a rank that did not ends the job saying so.
    /// </summary>
    /// <exception cref="Pipeline.Core.Engine.PipelineException">The ranks start from different steps.</exception>
    public void Attach(nn.Module model, int startStep)
    {
        ArgumentNullException.ThrowIfNull(model);
        Span<byte> lead = BitConverter.GetBytes(startStep);
        _mpi.Broadcast(lead);
        var leadStep = BitConverter.ToInt32(lead);
        if (leadStep != startStep)
        {
            throw new Pipeline.Core.Engine.PipelineException(
                $"rank {Rank} would start at step {startStep} and rank 0 at step {leadStep}: the ranks see different checkpoints; they must share the artifacts folder");
        }
        _averager?.Dispose();
        _averager = new GradientAverager(_mpi, model.parameters());
        _averager.Synchronize();
    }

    /// <summary>Averages the gradients over the ranks: the step every rank then takes is the whole batch's.</summary>
    public void AverageGradients() => (_averager ?? throw new InvalidOperationException("Attach a model first")).Average();

    /// <summary>Averages batch normalization's running statistics over the ranks (before an evaluation or a checkpoint).</summary>
    public void AverageBuffers(nn.Module model) => (_averager ?? throw new InvalidOperationException("Attach a model first")).AverageBuffers(model);

    /// <summary>Replaces each value with its sum over the ranks.</summary>
    public void Sum(Span<double> values) => _mpi.AllreduceSum(values);

    public void Dispose() => _averager?.Dispose();
}
