using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
using Pipeline.Core.Records;
using Pipeline.Training.Data;
using Pipeline.Training.Models;
using Pipeline.Training.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Evaluation;

/// <summary>The body of the Evaluate stage, apart from <see cref="EvaluateStage"/> so only running it loads TorchSharp.</summary>
internal static class EvaluateRunner
{
    public static void Run(StageContext context, StageRun run, string trainFolder, string recordsFolder)
    {
        var card = TrainedModel.Read(trainFolder);
        var labels = LabelSet.Read(Path.Combine(context.ArtifactsDirectory, LabelsStage.Output));
        var records = RecordsManifest.Read(recordsFolder);
        var split = context.Dataset.Evaluate.Split ?? (records.Has("test") ? "test" : records.HeldOutSplit(null));
        if (!records.Has(split))
        {
            throw new PipelineException($"evaluate.split is \"{split}\", but the records hold only {string.Join(", ", records.Splits)}", context.Dataset.DefinitionPath);
        }

        var input = card.Input;
        var data = new RecordPipeline(records.ShardPaths(split), input,
            new PipelineOptions(context.Dataset.Evaluate.BatchSize, 1, 0, null, Workers: 1));
        var metrics = Measure(card, Path.Combine(trainFolder, TrainedModel.WeightsName), labels.Count, data, run.Cancellation);

        var folder = run.PathOf(EvaluateStage.Output);
        Directory.CreateDirectory(folder);
        var extra = new System.Text.Json.Nodes.JsonObject
        {
            ["split"] = split,
            ["model"] = card.Architecture,
            ["steps"] = card.Steps,
            ["checkpoint"] = ContentHash.OfFile(Path.Combine(trainFolder, TrainedModel.WeightsName)),
        };
        File.WriteAllText(Path.Combine(folder, EvaluateStage.MetricsName),
            CanonicalJson.Serialize(metrics.ToJson(labels.Labels, extra), indented: true));
        var history = HistoryJson.Read(Path.Combine(trainFolder, TrainedModel.HistoryName));
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
    }

    /// <summary>Runs the saved model over every example of the split and accumulates its predictions.</summary>
    public static ClassificationMetrics Measure(TrainedModel card, string weights, int classes, RecordPipeline data, CancellationToken cancellation)
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
                var images = torch.tensor(batch.ImageMemory, [batch.Count, card.Channels, card.InputSize, card.InputSize]);
                var logits = model.forward(images).contiguous().data<float>().ToArray();
                accumulator.Add(logits, batch.Labels.AsSpan(0, batch.Count));
            }
        }
        return accumulator.Compute();
    }
}
