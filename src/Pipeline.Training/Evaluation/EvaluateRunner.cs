using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
using Pipeline.Core.Records;
using Pipeline.Training.Input;
using Pipeline.Training.Models;
using Pipeline.Training.Train;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Evaluation;

/// <summary>The body of the Evaluate stage, apart from <see cref="EvaluateStage"/> so only running it loads TorchSharp.</summary>
internal static class EvaluateRunner
{
    public static void Run(StageContext context, StageRun run, string trainFolder, string recordsFolder, string bottlenecksFolder)
    {
        var card = TrainedModel.Read(trainFolder);
        var labels = LabelSet.Read(Path.Combine(context.ArtifactsDirectory, LabelsStage.Output));
        var records = RecordsManifest.Read(recordsFolder);
        var split = context.Dataset.Evaluate.Split ?? (records.Has("test") ? "test" : records.HeldOutSplit(null));
        if (!records.Has(split))
        {
            throw new PipelineException($"evaluate.split is \"{split}\", but the records hold only {string.Join(", ", records.Splits)}", context.Dataset.DefinitionPath);
        }

        var weights = Path.Combine(trainFolder, TrainedModel.WeightsName);
        ClassificationMetrics metrics;
        var mistakes = new Mistakes();
        System.Text.Json.Nodes.JsonObject mistakesJson;
        if (Transfer.TransferHead.IsTransfer(card.Architecture))
        {
            // The backbone is frozen and its bottlenecks cached: measuring the head on them is measuring the model.
            metrics = MeasureHead(weights, labels.Count, Transfer.HeadTrainer.ReadSplit(bottlenecksFolder, split, labels));
            mistakesJson = new() { ["split"] = split, ["mistakes"] = new System.Text.Json.Nodes.JsonArray(), ["note"] = "a transferred head is measured on bottlenecks, without the images" };
        }
        else
        {
            var data = new RecordPipeline(records.ShardPaths(split), card.Input,
                new PipelineOptions(context.Dataset.Evaluate.BatchSize, 1, 0, null, Workers: 1));
            metrics = Measure(card, weights, labels.Count, data, context.Dataset.FlipAtInference, run.Cancellation, mistakes);
            mistakesJson = mistakes.ToJson(data.EpochOrder(0, shuffle: false, run.Cancellation), labels.Labels, split);
        }

        var folder = run.PathOf(EvaluateStage.Output);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, Mistakes.FileName), CanonicalJson.Serialize(mistakesJson, indented: true));
        var extra = new System.Text.Json.Nodes.JsonObject
        {
            ["split"] = split,
            ["model"] = card.Architecture,
            ["steps"] = card.Steps,
            ["checkpoint"] = ContentHash.OfFile(Path.Combine(trainFolder, TrainedModel.WeightsName)),
        };
        var history = HistoryJson.Read(Path.Combine(trainFolder, TrainedModel.HistoryName));
        // Beside the test figures: the held-out split training was judged on (validation, where there is one), so a
        // choice made on validation can be read against the test split it never saw. The model itself is measured on
        // it, as it predicts (inference.flip included); a transferred head's figure is training's last evaluation.
        var heldOut = records.HeldOutSplit(context.Dataset.Transfer?.EvalSplit ?? context.Dataset.Train.EvalSplit);
        ClassificationMetrics? heldOutMetrics = null;
        if (heldOut != split && !Transfer.TransferHead.IsTransfer(card.Architecture))
        {
            var heldOutData = new RecordPipeline(records.ShardPaths(heldOut), card.Input,
                new PipelineOptions(context.Dataset.Evaluate.BatchSize, 1, 0, null, Workers: 1));
            heldOutMetrics = Measure(card, weights, labels.Count, heldOutData, context.Dataset.FlipAtInference, run.Cancellation);
            extra["held_out"] = new System.Text.Json.Nodes.JsonObject
            {
                ["split"] = heldOut,
                ["accuracy"] = Math.Round(heldOutMetrics.Accuracy, 6),
                ["loss"] = Math.Round(heldOutMetrics.MeanLoss, 6),
                ["examples"] = heldOutMetrics.ExampleCount,
            };
        }
        else if (history.Count > 0)
        {
            var last = history[^1];
            extra["held_out"] = new System.Text.Json.Nodes.JsonObject
            {
                ["split"] = heldOut,
                ["accuracy"] = Math.Round(last.EvalAccuracy, 6),
                ["loss"] = Math.Round(last.EvalLoss, 6),
                ["step"] = last.Step,
            };
        }
        File.WriteAllText(Path.Combine(folder, EvaluateStage.MetricsName),
            CanonicalJson.Serialize(metrics.ToJson(labels.Labels, extra), indented: true));
        if (history.Count > 0)
        {
            TrainingCurvesPlot.Write(Path.Combine(folder, "curves.png"), history, context.Dataset.Name);
        }
        ConfusionMatrixPlot.Write(Path.Combine(folder, "confusion.png"), metrics, labels.Labels,
            $"{context.Dataset.Name}, {split} split");
        foreach (var line in EvaluationSummary.Format(metrics, labels.Labels).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            run.Log($"  {line}");
        }
        if (heldOutMetrics is not null)
        {
            run.Log(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"  {heldOut}: accuracy {100 * heldOutMetrics.Accuracy:F2}% on {heldOutMetrics.ExampleCount:N0} examples, mean loss {heldOutMetrics.MeanLoss:F4}"));
        }
        else if (history.Count > 0 && heldOut != split)
        {
            run.Log(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"  {heldOut} accuracy at training's last evaluation (step {history[^1].Step}): {100 * history[^1].EvalAccuracy:F2}%"));
        }
    }

    /// <summary>A transferred model's head over every bottleneck of the split.</summary>
    public static ClassificationMetrics MeasureHead(string weights, int classes, Transfer.BottleneckSet set)
    {
        using var head = Transfer.TransferHead.Load(weights, set.Dimension, classes);
        var accumulator = new ClassificationMetricsAccumulator(classes);
        using (var noGrad = torch.no_grad())
        using (var scope = NewDisposeScope())
        {
            var logits = head.forward(Transfer.TransferHead.Bottlenecks(set.Values, set.Count)).contiguous().data<float>().ToArray();
            accumulator.Add(logits, set.Labels.Select(l => (long)l).ToArray());
        }
        return accumulator.Compute();
    }

    /// <summary>Runs the saved model over every example of the split and accumulates its predictions.</summary>
    /// <param name="mistakes">Also collects the most confidently wrong examples, when given.</param>
    /// <param name="flip">Average each image's logits with its mirror image's (inference.flip).</param>
    public static ClassificationMetrics Measure(TrainedModel card, string weights, int classes, RecordPipeline data, bool flip, CancellationToken cancellation, Mistakes? mistakes = null)
    {
        var architecture = new TrainParameters { Model = card.Architecture, Channels = card.Channels, InputSize = card.InputSize };
        using var model = ModelFactory.Create(architecture, classes);
        model.load(weights);
        model.eval();
        var accumulator = new ClassificationMetricsAccumulator(classes);
        using var noGrad = torch.no_grad();
        foreach (var batch in data.Evaluation(cancellation))
        {
            using (batch)
            using (var scope = NewDisposeScope())
            {
                var (images, _) = batch.ToTensors();
                var logits = Inference.Logits(model, images, flip).contiguous().data<float>().ToArray();
                accumulator.Add(logits, batch.Labels.AsSpan(0, batch.Count));
                mistakes?.Add(logits, batch.Labels.AsSpan(0, batch.Count));
            }
        }
        return accumulator.Compute();
    }
}
