using System.Diagnostics;
using System.Runtime.InteropServices;
using Pipeline.Core.Distributed;
using Pipeline.Training.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Train;

/// <summary>
/// Data-parallel training's promise, checked on the job it runs in: N ranks, each taking its 1/N of every global
/// batch and averaging gradients with <see cref="GradientAverager"/>, compute the same steps as one process taking
/// the whole batch. A small network (no dropout or batch normalization, whose per-rank randomness and statistics are
/// not the whole batch's) trains on seeded random batches with our optimizer (SGD with momentum and weight decay);
/// rank 0 writes the final weights, to be compared across job sizes and across runs.
/// </summary>
public static class DataParallelCheck
{
    public sealed record Result(double FinalLoss, long BytesPerStep, TimeSpan Exchanging, TimeSpan Total);

    /// <param name="weightsFile">Where rank 0 writes the final weights: float32, little-endian, in parameter order.</param>
    public static Result Run(Mpi mpi, int steps, int globalBatch, string weightsFile)
    {
        ArgumentNullException.ThrowIfNull(mpi);
        if (globalBatch % mpi.Size != 0)
        {
            throw new ArgumentException($"a global batch of {globalBatch} does not split into {mpi.Size} equal shares", nameof(globalBatch));
        }
        // One thread, and the same seed everywhere: the same initial weights on every rank, and sums in a fixed order.
        torch.set_num_threads(1);
        torch.manual_seed(7);
        var model = nn.Sequential(("fc1", nn.Linear(64, 32)), ("relu", nn.ReLU()), ("fc2", nn.Linear(32, 10)));
        using var optimizer = new Optimizer("sgd", model.parameters(), momentum: 0.9, nesterov: false, weightDecay: 1e-4) { LearningRate = 0.05 };
        using var averager = new GradientAverager(mpi, model.parameters());
        averager.Synchronize();
        var share = globalBatch / mpi.Size;
        var clock = Stopwatch.StartNew();
        double loss = 0;
        for (var step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            // Batch k is a function of k alone; each rank takes rows [rank·share, (rank + 1)·share).
            using var generator = new Generator((ulong)(1000 + step));
            var images = torch.randn([globalBatch, 64], generator: generator);
            var labels = torch.randint(10, [globalBatch], generator: generator);
            var mine = images.narrow(0, mpi.Rank * share, share);
            var myLabels = labels.narrow(0, mpi.Rank * share, share);
            var batchLoss = nn.functional.cross_entropy(model.forward(mine), myLabels);
            optimizer.Minimize(batchLoss, mpi.Size > 1 ? averager.Average : null);
            loss = batchLoss.item<float>();
        }
        if (mpi.Rank == 0)
        {
            using var noGrad = torch.no_grad();
            using var flat = torch.cat([.. model.parameters().Select(p => p.detach().reshape(-1))]);
            File.WriteAllBytes(weightsFile, MemoryMarshal.AsBytes(flat.data<float>().ToArray().AsSpan()).ToArray());
        }
        mpi.Barrier();
        return new Result(loss, averager.BytesPerStep, averager.Exchanging, clock.Elapsed);
    }
}
