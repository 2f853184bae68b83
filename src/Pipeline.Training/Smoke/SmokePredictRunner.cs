using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Serving.Export;
using Pipeline.Serving.Prediction;
using Pipeline.Training.Models;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Pipeline.Training.Smoke;

/// <summary>The body of the SmokePredict stage, apart from <see cref="SmokePredictStage"/> so only running it loads native libraries.</summary>
internal static class SmokePredictRunner
{
    private const int Batch = 50;

    public static void Run(StageContext context, StageRun run, SmokePredictStage stage)
    {
        var parameters = context.Dataset.Smoke;
        var exported = ExportedModel.Open(stage.ExportFolder);
        var card = exported.Card;
        using var classifier = OnnxClassifier.Load(exported);

        var sample = Sample(context, stage.Split, parameters.Samples, card);
        var clock = Stopwatch.StartNew();
        var served = new List<Prediction>(sample.Count);
        for (var start = 0; start < sample.Count; start += Batch)
        {
            run.Cancellation.ThrowIfCancellationRequested();
            var batch = sample.Skip(start).Take(Batch).ToList();
            served.AddRange(classifier.Predict([.. batch.Select(s => (ReadOnlyMemory<byte>)s.Bytes)], [.. batch.Select(s => s.Origin)]));
        }
        var servingSeconds = clock.Elapsed.TotalSeconds;
        var reference = TorchSharpProbabilities(context, exported, sample);

        var classes = card.Classes.Count;
        var maxSumError = 0.0;
        var finite = true;
        var maxDifference = 0.0;
        var correct = 0;
        var predictions = new JsonArray();
        for (var i = 0; i < sample.Count; i++)
        {
            var probabilities = served[i].Probabilities;
            finite &= probabilities.All(float.IsFinite);
            maxSumError = Math.Max(maxSumError, Math.Abs(probabilities.Sum(p => (double)p) - 1));
            for (var c = 0; c < classes; c++)
            {
                maxDifference = Math.Max(maxDifference, Math.Abs(probabilities[c] - reference[i * classes + c]));
            }
            var right = served[i].ClassId == sample[i].ClassId;
            correct += right ? 1 : 0;
            predictions.Add(new JsonObject
            {
                ["image"] = context.Dataset.Portable(sample[i].Origin),
                ["label"] = card.Classes[sample[i].ClassId],
                ["predicted"] = served[i].Label,
                ["probability"] = Math.Round(probabilities[served[i].ClassId], 6),
            });
        }
        var accuracy = (double)correct / sample.Count;
        var evaluated = card.Metrics["accuracy"]?.GetValue<double>()
            ?? throw new PipelineException("the model card has no evaluated accuracy to compare with; rebuild the export", exported.Folder);

        var checks = new List<Check>
        {
            new("model loads through the serving path", $"version {exported.Version}, {classifier.LoadTime.TotalSeconds:0.00} s", "ONNX Runtime", true),
            new("probabilities finite and summing to 1", $"max |sum - 1| = {maxSumError:0.0e0}", "1e-4", finite && maxSumError <= 1e-4),
            new("sample accuracy near the evaluated one", $"{accuracy:0.000} on {sample.Count}", $"{evaluated:0.000} ± {parameters.AccuracyTolerance:0.###}",
                Math.Abs(accuracy - evaluated) <= parameters.AccuracyTolerance),
            new("ONNX Runtime agrees with TorchSharp", $"max diff {maxDifference:0.0e0}", $"{parameters.MaxProbabilityDifference:0.0e0}",
                maxDifference <= parameters.MaxProbabilityDifference),
        };
        foreach (var line in Table(checks))
        {
            run.Log($"  {line}");
        }
        run.Log($"  served {sample.Count} images from source files in {servingSeconds:0.00} s ({sample.Count / Math.Max(servingSeconds, 1e-9):0} images/s, batches of {Batch})");

        var failed = checks.Where(c => !c.Passed).ToList();
        if (failed.Count > 0)
        {
            throw new PipelineException($"the exported model failed {failed.Count} smoke check(s): {string.Join("; ", failed.Select(c => $"{c.Name} ({c.Value}, limit {c.Limit})"))}",
                DisplayPath.FromCurrentDirectory(exported.Folder));
        }

        var report = new JsonObject
        {
            ["version"] = exported.Version,
            ["split"] = stage.Split,
            ["samples"] = sample.Count,
            ["accuracy"] = Math.Round(accuracy, 6),
            ["evaluated_accuracy"] = evaluated,
            ["accuracy_tolerance"] = parameters.AccuracyTolerance,
            ["max_probability_difference"] = maxDifference,
            ["max_probability_difference_allowed"] = parameters.MaxProbabilityDifference,
            ["max_sum_error"] = maxSumError,
            ["checks"] = new JsonArray([.. checks.Select(c => (JsonNode)new JsonObject { ["check"] = c.Name, ["limit"] = c.Limit, ["passed"] = c.Passed })]),
            ["predictions"] = predictions,
        };
        var folder = run.PathOf(SmokePredictStage.Output);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, SmokePredictStage.ReportName), CanonicalJson.Serialize(report, indented: true) + "\n");
    }

    private sealed record Check(string Name, string Value, string Limit, bool Passed);

    /// <summary>One held-out image as its source holds it: the bytes a client would send.</summary>
    internal sealed record SampleImage(string Origin, int ClassId, byte[] Bytes);

    /// <summary>Up to <paramref name="count"/> examples of the split, a fixed random sample, read from their sources.</summary>
    internal static IReadOnlyList<SampleImage> Sample(StageContext context, string split, int count, ModelCard card)
    {
        var classIds = card.Classes.Select((label, id) => (label, id)).ToDictionary(c => c.label, c => c.id, StringComparer.Ordinal);
        var examples = context.Source.Examples(split)
            .Where(e => classIds.ContainsKey(e.Label)) // rows a fixed label list drops are not the model's to answer
            .ToList();
        if (examples.Count == 0)
        {
            throw new PipelineException($"the {split} split has no images with the model's labels to predict", context.Dataset.DefinitionPath);
        }
        var n = Math.Min(count, examples.Count);
        // A fixed-seed random sample, in source order: unbiased (a stride can beat on an order the split was put
        // together in) and the same images every run, so reports compare.
        var random = new Random(20171010);
        var order = Enumerable.Range(0, examples.Count).ToArray();
        for (var i = 0; i < n; i++)
        {
            var j = random.Next(i, order.Length);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var sample = new List<SampleImage>(n);
        var decoder = new InputImageDecoder(card.Input, context.Dataset.Records.MaxImagePixels);
        var skipBad = context.Dataset.Records.OnBadImage == "skip";
        foreach (var index in order.Take(n).Order())
        {
            var example = examples[index];
            try
            {
                var bytes = example.Image switch
                {
                    // IDX holds raw pixels: the PNG the Records stage makes of them is the image file a user has.
                    PixelImageRef pixels => GrayPngWriter.Encode(pixels.Pixels.Span, pixels.Width, pixels.Height),
                    FileImageRef file => SourceImageFile.ReadAll(file, example.Origin, context.Downloads.Fetch),
                    _ => throw new NotSupportedException(example.Image.GetType().Name),
                };
                decoder.DecodePixels(bytes, example.Origin);
                sample.Add(new SampleImage(example.Origin, classIds[example.Label], bytes));
            }
            catch (BadImageException e) when (skipBad)
            {
                // The Records stage left this image out too (records/rejects.json): it is not the model's to answer.
                context.Log($"  left out of the sample (on_bad_image: skip): {e.Message}");
            }
        }
        if (sample.Count == 0)
        {
            throw new PipelineException($"none of the {n} sampled images of the {split} split can be read", context.Dataset.DefinitionPath);
        }
        return sample;
    }

    /// <summary>
    /// The same images through TorchSharp: the exported safetensors in our model class, softmax of its logits (averaged
    /// with the mirror image's where the card says the graph does). For a
    /// transferred model, the way it was trained: each image's bottleneck from the backbone alone, then the head.
    /// </summary>
    private static float[] TorchSharpProbabilities(StageContext context, ExportedModel exported, IReadOnlyList<SampleImage> sample)
    {
        var card = exported.Card;
        if (Transfer.TransferHead.IsTransfer(card.Architecture))
        {
            return TransferProbabilities(context, exported, sample);
        }
        var architecture = new TrainParameters { Model = card.Architecture, Channels = card.Input.Channels, InputSize = card.Input.Size };
        using var model = ModelFactory.Create(architecture, card.Classes.Count);
        model.load_safetensors(exported.WeightsPath);
        model.eval();
        var decoder = new InputImageDecoder(card.Input);
        var perImage = card.Input.ValuesPerImage;
        var input = new float[sample.Count * perImage];
        for (var i = 0; i < sample.Count; i++)
        {
            decoder.Decode(sample[i].Bytes, input.AsSpan(i * perImage, perImage), sample[i].Origin);
        }
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var images = torch.tensor(input, [sample.Count, card.Input.Channels, card.Input.Size, card.Input.Size]);
        return nn.functional.softmax(Inference.Logits(model, images, card.Flip), 1).contiguous().data<float>().ToArray();
    }

    private static float[] TransferProbabilities(StageContext context, ExportedModel exported, IReadOnlyList<SampleImage> sample)
    {
        var card = exported.Card;
        if (context.Dataset.Transfer is null)
        {
            throw new PipelineException($"the export is a transferred model ({card.Architecture}), but the dataset has no transfer section now; rebuild it", context.Dataset.DefinitionPath);
        }
        using var backbone = Transfer.Backbones.Open(context.Dataset, context.ArtifactsDirectory);
        using var head = nn.Linear(backbone.Dimension, card.Classes.Count);
        head.load_safetensors(exported.WeightsPath);
        head.eval();
        var decoder = new InputImageDecoder(card.Input);
        var perImage = card.Input.ValuesPerImage;
        var probabilities = new List<float>(sample.Count * card.Classes.Count);
        for (var start = 0; start < sample.Count; start += Batch)
        {
            var count = Math.Min(Batch, sample.Count - start);
            var input = new float[count * perImage];
            for (var k = 0; k < count; k++)
            {
                decoder.Decode(sample[start + k].Bytes, input.AsSpan(k * perImage, perImage), sample[start + k].Origin);
            }
            probabilities.AddRange(Transfer.TransferHead.Probabilities(head, backbone.Bottlenecks(input, count), count));
        }
        return [.. probabilities];
    }

    private static IEnumerable<string> Table(IReadOnlyList<Check> checks)
    {
        var nameWidth = checks.Max(c => c.Name.Length);
        var valueWidth = checks.Max(c => c.Value.Length);
        var limitWidth = checks.Max(c => c.Limit.Length);
        yield return $"{"check".PadRight(nameWidth)}  {"measured".PadRight(valueWidth)}  {"limit".PadRight(limitWidth)}  result";
        foreach (var c in checks)
        {
            yield return $"{c.Name.PadRight(nameWidth)}  {c.Value.PadRight(valueWidth)}  {c.Limit.PadRight(limitWidth)}  {(c.Passed ? "ok" : "FAILED")}";
        }
    }
}
