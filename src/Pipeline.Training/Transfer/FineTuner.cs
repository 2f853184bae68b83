using System.Globalization;
using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Records;
using Pipeline.Training.Input;
using Pipeline.Training.Models;
using Pipeline.Training.Train;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Transfer;

/// <summary>
/// transfer.fine_tune: after the head, the backbone's last block (a ResNet's layer4, the cnn's fc1) is trained with
/// the head on the images, at a low learning rate, everything before it frozen. The result is an ordinary model of
/// the backbone's architecture with the new classes, so Evaluate, Export and SmokePredict take it as any other.
/// </summary>
/// <remarks>
/// The model runs in evaluation mode throughout: batch normalization keeps the statistics the backbone was trained
/// with and dropout is off, which is what a few hundred images can afford; only the block's and the head's weights move.
/// </remarks>
internal static class FineTuner
{
    public sealed record Result(nn.Module<Tensor, Tensor> Model, TrainedModel Card, IReadOnlyList<HistoryPoint> History);

    public static Result Run(StageContext context, StageRun run, TorchSharp.Modules.Linear head, IReadOnlyList<string> classes, string heldOutSplit,
        int firstStep, TrainingLog log)
    {
        var transfer = context.Dataset.Transfer!;
        var fineTune = transfer.FineTune!;
        var (architecture, input, weights) = Backbones.Trainable(context.Dataset, context.ArtifactsDirectory);
        nn.Module<Tensor, Tensor> model;
        try
        {
            model = Assemble(architecture, input, weights, head, classes.Count);
        }
        finally
        {
            foreach (var tensor in weights.Values)
            {
                tensor.Dispose();
            }
        }
        var block = architecture == "cnn" ? "fc1." : "layer4.";
        var classifier = architecture == "cnn" ? "fc2." : "fc.";
        var trainable = new List<TorchSharp.Modules.Parameter>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            parameter.requires_grad = name.StartsWith(block, StringComparison.Ordinal) || name.StartsWith(classifier, StringComparison.Ordinal);
            if (parameter.requires_grad)
            {
                trainable.Add(parameter);
            }
        }

        var records = RecordsManifest.Read(Path.Combine(context.ArtifactsDirectory, RecordsStage.Output));
        var options = new PipelineOptions(fineTune.BatchSize, ShuffleBuffer: 1024, transfer.Seed, Augment: null, Workers: 1);
        var train = new RecordPipeline(records.ShardPaths("train"), input, options);
        var heldOut = new RecordPipeline(records.ShardPaths(heldOutSplit), input, options);
        if (train.StepsPerEpoch == 0)
        {
            throw new PipelineException($"the train split has {train.ExampleCount} examples, fewer than one batch of {fineTune.BatchSize}; lower transfer.fine_tune.batch_size", context.Dataset.DefinitionPath);
        }
        log.Line($"fine-tuning {block.TrimEnd('.')} and the head of {architecture}: {trainable.Sum(p => p.numel()):N0} weights, {fineTune.Steps:N0} steps of {fineTune.BatchSize} images, "
            + $"SGD with momentum at {fineTune.LearningRate.ToString(CultureInfo.InvariantCulture)}");
        using var optimizer = new Optimizer("sgd", trainable, momentum: 0.9, nesterov: false, weightDecay: 0) { LearningRate = fineTune.LearningRate };
        var history = new List<HistoryPoint>();
        model.eval();
        var loop = new TrainingLoop
        {
            Model = model,
            Optimizer = optimizer,
            Loss = (logits, labels) => nn.functional.cross_entropy(logits, labels),
            RateAt = _ => fineTune.LearningRate,
            TotalSteps = fineTune.Steps,
            EvalEvery = Math.Max(1, Math.Min(transfer.StepsPerEval, fineTune.Steps)),
            Evaluate = () => Trainer.Measure(model, heldOut, run.Cancellation),
            Evaluated = (step, window, measured) =>
            {
                var point = new HistoryPoint(firstStep + step, window.MeanLoss, window.Accuracy, measured.Loss, measured.Accuracy, fineTune.LearningRate);
                history.Add(point);
                log.Evaluated(point, window.ImagesPerSecond);
                log.Line(string.Create(CultureInfo.InvariantCulture,
                    $"fine-tune step {step}: train accuracy {point.TrainAccuracy * 100:0.0}%, cross entropy {point.TrainLoss:0.000}, {heldOutSplit} accuracy {measured.Accuracy * 100:0.0}% (N={heldOut.ExampleCount})"));
            },
        };
        loop.Run(0, train.Training(0, run.Cancellation), batch => batch.ToTensors(), run.Cancellation);
        var card = new TrainedModel(architecture, classes, input.Channels, input.Size, [.. input.Mean.Select(m => (double)m)], [.. input.Std.Select(s => (double)s)],
            firstStep + fineTune.Steps, run.ResumeKey);
        return new Result(model, card, history);
    }

    /// <summary>The backbone's architecture for the new classes: its weights, with the trained head as its classifier.</summary>
    private static nn.Module<Tensor, Tensor> Assemble(string architecture, InputSpec input, IReadOnlyDictionary<string, Tensor> weights,
        TorchSharp.Modules.Linear head, int classes)
    {
        var model = ModelFactory.Create(new TrainParameters { Model = architecture, Channels = input.Channels, InputSize = input.Size }, classes);
        var classifier = architecture == "cnn" ? "fc2" : "fc";
        using var noGrad = torch.no_grad();
        foreach (var (name, tensor) in model.state_dict())
        {
            var source = name == $"{classifier}.weight" ? head.weight
                : name == $"{classifier}.bias" ? head.bias
                : weights.TryGetValue(name, out var weight) ? weight
                : name.EndsWith(".num_batches_tracked", StringComparison.Ordinal) ? null
                : throw new PipelineException($"the backbone's weights have no {name}; they do not fit {architecture}");
            if (source is not null)
            {
                tensor.copy_(source);
            }
        }
        return model;
    }
}
