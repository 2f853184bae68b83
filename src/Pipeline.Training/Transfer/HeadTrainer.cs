using System.Diagnostics;
using System.Globalization;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
using Pipeline.Training.Train;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Transfer;

/// <summary>
/// The Train stage of a transfer dataset: retrain.py's loop on cached bottlenecks. Each step takes a random batch
/// of train bottlenecks (drawn with replacement), and every steps_per_eval steps a line reports the step, train
/// accuracy, cross entropy and validation accuracy on the whole held-out split, with the same TensorBoard scalars as
/// full training. Seconds, not minutes: the backbone never runs here.
/// </summary>
internal static class HeadTrainer
{
    public static void Run(StageContext context, StageRun run, string bottlenecksFolder, string labelsPath)
    {
        var transfer = context.Dataset.Transfer!;
        var labels = LabelSet.Read(labelsPath);
        var train = ReadSplit(bottlenecksFolder, "train", labels);
        var heldOutSplit = transfer.EvalSplit ?? (File.Exists(Path.Combine(bottlenecksFolder, BottleneckSet.FileName("validation"))) ? "validation" : "test");
        var heldOut = ReadSplit(bottlenecksFolder, heldOutSplit, labels);
        if (train.Count == 0)
        {
            throw new PipelineException("the train split has no examples to train the head on", context.Dataset.DefinitionPath);
        }

        torch.set_num_threads(transfer.Threads > 0 ? transfer.Threads : Environment.ProcessorCount);
        torch.manual_seed(transfer.Seed);
        using var head = TransferHead.Create(train.Dimension, labels.Count);
        // Plain gradient descent as retrain.py, through our optimizer: TorchSharp's own frees Scalars mid-call (see Optimizer).
        using var optimizer = new Optimizer("sgd", head.parameters(), momentum: 0, nesterov: false, weightDecay: 0) { LearningRate = transfer.LearningRate };
        var tensorboard = Path.Combine(context.ArtifactsDirectory, "tensorboard", run.ResumeKey[..12]);
        var log = new TrainingLog(ProgressReporter.ForConsole(run.Log), tensorboard);
        log.Line($"head: {train.Dimension} → {labels.Count} on {train.Count:N0} train bottlenecks, {transfer.TrainSteps:N0} steps of {transfer.BatchSize}, "
            + $"learning rate {transfer.LearningRate.ToString(CultureInfo.InvariantCulture)}; validation on all {heldOut.Count:N0} {heldOutSplit} bottlenecks");

        using var heldOutX = TransferHead.Bottlenecks(heldOut.Values, heldOut.Count);
        using var heldOutY = torch.tensor(heldOut.Labels.Select(l => (long)l).ToArray(), [heldOut.Count]);
        var history = new List<HistoryPoint>();
        var clock = Stopwatch.StartNew();
        head.train();
        var loop = new TrainingLoop
        {
            Model = head,
            Optimizer = optimizer,
            Loss = (logits, y) => nn.functional.cross_entropy(logits, y),
            RateAt = _ => transfer.LearningRate,
            TotalSteps = transfer.TrainSteps,
            EvalEvery = transfer.StepsPerEval,
            Evaluate = () =>
            {
                using var noGrad = torch.no_grad();
                using var scope = NewDisposeScope();
                head.eval();
                var logits = head.forward(heldOutX);
                var measured = (Loss: (double)nn.functional.cross_entropy(logits, heldOutY).item<float>(),
                    Accuracy: logits.argmax(1).eq(heldOutY).sum().item<long>() / (double)heldOut.Count);
                head.train();
                return measured;
            },
            Evaluated = (step, window, measured) =>
            {
                var point = new HistoryPoint(step, window.MeanLoss, window.Accuracy, measured.Loss, measured.Accuracy, transfer.LearningRate);
                history.Add(point);
                log.Evaluated(point, window.ImagesPerSecond);
                log.Line(string.Create(CultureInfo.InvariantCulture,
                    $"step {step}: train accuracy {point.TrainAccuracy * 100:0.0}%, cross entropy {point.TrainLoss:0.000}, {heldOutSplit} accuracy {measured.Accuracy * 100:0.0}% (N={heldOut.Count})"));
            },
        };
        loop.Run(0, RandomBatches(train, transfer.BatchSize, new Random(transfer.Seed), transfer.TrainSteps),
            batch => (TransferHead.Bottlenecks(batch.Values, batch.Labels.Length), torch.tensor(batch.Labels, [batch.Labels.Length])), run.Cancellation);
        var seconds = clock.Elapsed.TotalSeconds;
        log.Line($"trained the head {transfer.TrainSteps:N0} steps in {seconds:0.0} s ({transfer.TrainSteps / Math.Max(seconds, 1e-9):0} steps/s)");

        var folder = run.PathOf(TrainStage.Output);
        head.eval();
        if (transfer.FineTune is not null)
        {
            // The head trained, the backbone's last block follows: the outputs are then an ordinary model of the backbone's architecture.
            var tuned = FineTuner.Run(context, run, head, labels.Labels, heldOutSplit, transfer.TrainSteps, log);
            using (tuned.Model)
            {
                tuned.Card.Write(folder, Trainer.ModelBytes(tuned.Model), [.. history, .. tuned.History]);
            }
            return;
        }
        var manifest = BottlenecksManifest.Read(Path.Combine(bottlenecksFolder, BottlenecksStage.ManifestName));
        TransferHead.Card(manifest, labels.Labels, transfer.TrainSteps, run.ResumeKey).Write(folder, Trainer.ModelBytes(head), history);
    }

    /// <summary>A batch of bottlenecks and their labels; its arrays are reused for the next batch.</summary>
    private sealed record BottleneckBatch(float[] Values, long[] Labels);

    /// <summary>retrain.py's batches: each a random draw, with replacement, of <paramref name="size"/> train bottlenecks.</summary>
    private static IEnumerable<BottleneckBatch> RandomBatches(BottleneckSet train, int size, Random random, int count)
    {
        var batch = new BottleneckBatch(new float[size * train.Dimension], new long[size]);
        for (var n = 0; n < count; n++)
        {
            for (var k = 0; k < size; k++)
            {
                var i = random.Next(train.Count);
                train.Values.AsSpan(i * train.Dimension, train.Dimension).CopyTo(batch.Values.AsSpan(k * train.Dimension));
                batch.Labels[k] = train.Labels[i];
            }
            yield return batch;
        }
    }

    /// <summary>A split's bottlenecks, checked against labels.txt.</summary>
    internal static BottleneckSet ReadSplit(string folder, string split, LabelSet labels)
    {
        var path = Path.Combine(folder, BottleneckSet.FileName(split));
        if (!File.Exists(path))
        {
            throw new PipelineException($"there are no {split} bottlenecks; the records have no {split} split, or Bottlenecks must be rebuilt (--target=Bottlenecks)", path);
        }
        var set = BottleneckSet.Read(path);
        if (set.Labels.Any(l => l < 0 || l >= labels.Count))
        {
            throw new PipelineException($"holds class {set.Labels.First(l => l < 0 || l >= labels.Count)}, but labels.txt has {labels.Count} classes; rebuild Records and Bottlenecks", path);
        }
        return set;
    }
}
