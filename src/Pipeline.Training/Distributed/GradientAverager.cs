using System.Diagnostics;
using System.Runtime.InteropServices;
using Pipeline.Core.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Distributed;

/// <summary>
/// Data-parallel training's one exchange, the Horovod design: after each rank's backward pass on its share of the
/// global batch, every gradient is summed over the ranks with one MPI_Allreduce and divided by their number, so every
/// rank takes the same optimizer step from the same averaged gradient. The gradients travel in one flat buffer, a
/// tensor whose memory MPI reads and writes in place, so a step costs one allreduce whatever the number of tensors.
/// </summary>
public sealed class GradientAverager : IDisposable
{
    private readonly Mpi _mpi;
    private readonly IReadOnlyList<TorchSharp.Modules.Parameter> _parameters;
    private readonly Tensor _flat;
    private readonly Stopwatch _exchanging = new();

    public GradientAverager(Mpi mpi, IEnumerable<TorchSharp.Modules.Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(mpi);
        ArgumentNullException.ThrowIfNull(parameters);
        _mpi = mpi;
        _parameters = [.. parameters];
        _flat = torch.zeros(_parameters.Sum(p => p.numel()), ScalarType.Float32).DetachFromDisposeScope();
    }

    /// <summary>Bytes each rank sends (and receives) per step: every gradient as a float32.</summary>
    public long BytesPerStep => _flat.numel() * sizeof(float);

    /// <summary>Time spent in MPI_Allreduce so far (waiting for the slowest rank included).</summary>
    public TimeSpan Exchanging => _exchanging.Elapsed;

    /// <summary>Replaces each parameter's gradient with its mean over the ranks.</summary>
    public void Average()
    {
        using var noGrad = torch.no_grad();
        Gather(gradients: true);
        _exchanging.Start();
        _mpi.AllreduceSum(Span());
        _exchanging.Stop();
        using (var ranks = ((double)_mpi.Size).ToScalar())
        {
            _flat.div_(ranks);
        }
        Scatter(gradients: true);
    }

    /// <summary>Gives every rank rank 0's parameter values (a resumed or freshly initialized model starts the same everywhere).</summary>
    public void Synchronize()
    {
        using var noGrad = torch.no_grad();
        Gather(gradients: false);
        _mpi.Broadcast(Span());
        Scatter(gradients: false);
    }

    /// <summary>
    /// Replaces each float32 buffer of <paramref name="model"/> (batch normalization's running mean and variance) with
    /// its mean over the ranks. Each rank's statistics follow its own share of the batches; the mean is the model rank 0
    /// evaluates and saves, and every rank holds it after this call, so they go on alike.
    /// </summary>
    public void AverageBuffers(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var noGrad = torch.no_grad();
        var buffers = model.buffers().Where(b => b.dtype == ScalarType.Float32).ToList();
        if (buffers.Count == 0)
        {
            return;
        }
        // The scope frees the flat copy and the views; the buffers themselves are the model's.
        using var scope = NewDisposeScope();
        var flat = torch.cat([.. buffers.Select(b => b.reshape(-1))]);
        _mpi.AllreduceSum(MemoryMarshal.Cast<byte, float>(flat.bytes));
        using (var ranks = ((double)_mpi.Size).ToScalar())
        {
            flat.div_(ranks);
        }
        long offset = 0;
        foreach (var buffer in buffers)
        {
            buffer.copy_(flat.narrow(0, offset, buffer.numel()).view(buffer.shape));
            offset += buffer.numel();
        }
    }

    /// <summary>The gradients (or the parameters) into the flat buffer, in parameter order; a missing gradient counts as zeros.</summary>
    private void Gather(bool gradients)
    {
        long offset = 0;
        foreach (var parameter in _parameters)
        {
            var count = parameter.numel();
            using var slice = _flat.narrow(0, offset, count);
            // A gradient is a new handle to dispose; the parameter itself is the model's.
            using var grad = gradients ? parameter.grad : null;
            var tensor = gradients ? grad : parameter;
            if (tensor is null)
            {
                slice.zero_();
            }
            else
            {
                using var flat = tensor.reshape(-1);
                slice.copy_(flat);
            }
            offset += count;
        }
    }

    private void Scatter(bool gradients)
    {
        long offset = 0;
        foreach (var parameter in _parameters)
        {
            var count = parameter.numel();
            using var grad = gradients ? parameter.grad : null;
            var tensor = gradients ? grad : parameter;
            if (tensor is not null)
            {
                using var slice = _flat.narrow(0, offset, count);
                using var shaped = slice.view(tensor.shape);
                tensor.copy_(shaped);
            }
            offset += count;
        }
    }

    /// <summary>The flat buffer's own memory (a contiguous CPU float32 tensor: Tensor.bytes is a span over it, not a copy), for MPI to read and write.</summary>
    private Span<float> Span() => MemoryMarshal.Cast<byte, float>(_flat.bytes);

    public void Dispose() => _flat.Dispose();
}
