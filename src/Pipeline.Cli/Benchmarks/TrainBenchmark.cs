using System.Diagnostics;
using Pipeline.Cli.Composition;
using Pipeline.Core.Build;
using Pipeline.Core.Images;
using Pipeline.Core.Records;
using Pipeline.Training.Input;
using Pipeline.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// Training throughput from shards on disk against the same model on batches already in memory, in one run:
/// the input pipeline's cost to training is the gap between the two.
/// </summary>
internal static class TrainBenchmark
{
    public static void Run(string root, string dataset, int steps)
    {
        var pipeline = Chain.Open(root, dataset, Console.WriteLine);
        pipeline.Build("records", new BuildOptions());
        var train = pipeline.Dataset.Train;
        var records = RecordsManifest.Read(Path.Combine(pipeline.ArtifactsDirectory, RecordsStage.Output));
        var input = InputSpec.From(train) with { Channels = ModelFactory.InputChannels(train) };
        var data = new RecordPipeline(records.ShardPaths("train"), input, PipelineOptions.From(train, workers: 1));
        // One process: a dataset that trains on several (train.distributed) is measured on all the cores in this one.
        torch.set_num_threads(train.Threads > 0 && train.Distributed.Processes == 1 ? train.Threads : Environment.ProcessorCount);
        var classes = File.ReadAllLines(Path.Combine(pipeline.ArtifactsDirectory, "labels.txt")).Length;

        // In memory: a few real batches, decoded once, cycled.
        var cached = new List<(Tensor Images, Tensor Labels)>();
        foreach (var batch in data.Training(0).Take(16))
        {
            using (batch)
            {
                cached.Add((torch.tensor(batch.ImageMemory, [batch.Count, input.Channels, input.Size, input.Size]),
                    torch.tensor(batch.Labels.AsMemory(0, batch.Count), [batch.Count])));
            }
        }
        var warmup = Math.Min(20, steps / 5);
        var memory = Measure(train, classes, steps, warmup, step => cached[step % cached.Count], null);
        var disk = Measure(train, classes, steps, warmup, null, data);
        Console.WriteLine($"train {train.Model} batch {train.BatchSize}, {steps} steps after {warmup} warm-up, one process of {torch.get_num_threads()} threads:");
        Console.WriteLine($"  from tensors in memory: {memory:F0} images/s");
        Console.WriteLine($"  from shards on disk:    {disk:F0} images/s");
        Console.WriteLine($"  ratio disk/memory: {disk / memory:F3} (goal: at least 0.90)");
        Console.WriteLine($"  peak memory of this process: {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MB");
    }

    private static double Measure(Pipeline.Core.Datasets.TrainParameters train, int classes, int steps, int warmup,
        Func<int, (Tensor Images, Tensor Labels)>? fromMemory, RecordPipeline? fromDisk)
    {
        torch.manual_seed(train.Seed);
        using var model = ModelFactory.Create(train, classes);
        using var optimizer = new Pipeline.Training.Train.Optimizer(train.Optimizer.Name, model.parameters(), train.Optimizer.Momentum, train.Optimizer.Nesterov, train.WeightDecay) { LearningRate = train.LearningRate.Base };
        var loss = new TorchSharp.Modules.CrossEntropyLoss();
        model.train();
        var clock = new Stopwatch();
        var images = 0L;
        var batches = fromDisk?.Training(0).GetEnumerator();
        for (var step = 0; step < warmup + steps; step++)
        {
            if (step == warmup)
            {
                clock.Start();
            }
            using var scope = NewDisposeScope();
            Tensor x, y;
            if (batches is not null)
            {
                batches.MoveNext();
                using var batch = batches.Current;
                var spec = fromDisk!.Input;
                x = torch.tensor(batch.ImageMemory, [batch.Count, spec.Channels, spec.Size, spec.Size]);
                y = torch.tensor(batch.Labels.AsMemory(0, batch.Count), [batch.Count]);
            }
            else
            {
                (x, y) = fromMemory!(step);
            }
            optimizer.Minimize(loss.forward(model.forward(x), y));
            if (step >= warmup)
            {
                images += x.shape[0];
            }
        }
        batches?.Dispose();
        return images / clock.Elapsed.TotalSeconds;
    }
}
