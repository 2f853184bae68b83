using System.Globalization;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
using Pipeline.Serving.Export;
using Pipeline.Training.Models;
using Pipeline.Training.Train;
using TorchSharp;
using TorchSharp.PyBridge;

namespace Pipeline.Training.Export;

/// <summary>The body of the Export stage, apart from <see cref="ExportStage"/> so only running it loads TorchSharp.</summary>
internal static class ExportRunner
{
    public static void Run(StageContext context, StageRun run, ExportStage stage)
    {
        var metrics = ReadMetrics(stage.MetricsPath);
        var accuracy = metrics["accuracy"]!.GetValue<double>();
        var minimum = context.Dataset.Export.MinAccuracy;
        if (accuracy < minimum)
        {
            throw new PipelineException(
                $"accuracy {accuracy:0.0000} on the {metrics["split"]} split is below export.min_accuracy {minimum:0.####}: the model is not exported. "
                + "Train longer or better (dataset.json train section), or lower export.min_accuracy",
                DisplayPath.FromCurrentDirectory(stage.MetricsPath));
        }

        var live = Path.Combine(context.ArtifactsDirectory, ExportStage.Output);
        CheckBaseline(context, live, accuracy, metrics["split"]?.ToString(), stage.MetricsPath, run.Log);

        var trained = TrainedModel.Read(stage.TrainFolder);
        var labels = LabelSet.Read(stage.LabelsPath);
        if (!labels.Labels.SequenceEqual(trained.Classes))
        {
            throw new PipelineException("labels.txt changed since the model was trained; rebuild Train", DisplayPath.FromCurrentDirectory(stage.LabelsPath));
        }
        var input = trained.Input;
        var weightsPath = Path.Combine(stage.TrainFolder, TrainedModel.WeightsName);
        var card = new ModelCard(context.Dataset.Name, trained.Architecture, trained.Classes, input, metrics, Lineage(context, weightsPath), context.Dataset.FlipAtInference);

        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal)
        {
            [ModelCard.FileName] = System.Text.Encoding.UTF8.GetBytes(CanonicalJson.Serialize(card.ToJson(), indented: true) + "\n"),
            [ModelCard.LabelsFile] = System.Text.Encoding.UTF8.GetBytes(labels.ToText()),
        };
        var safetensors = Path.Combine(run.OutputRoot, "weights.tmp");
        if (Transfer.TransferHead.IsTransfer(trained.Architecture))
        {
            if (context.Dataset.Transfer is null)
            {
                throw new PipelineException($"the model was trained by transfer ({trained.Architecture}), but the dataset has no transfer section now; rebuild Train", context.Dataset.DefinitionPath);
            }
            using var backbone = Transfer.Backbones.Open(context.Dataset, context.ArtifactsDirectory);
            if (backbone.Input != input)
            {
                throw new PipelineException($"the backbone now reads {backbone.Input}, but the head was trained on bottlenecks of {input}; rebuild Bottlenecks and Train", DisplayPath.FromCurrentDirectory(stage.TrainFolder));
            }
            using var head = Transfer.TransferHead.Load(weightsPath, backbone.Dimension, labels.Count);
            files[ModelCard.OnnxFile] = Transfer.TransferExporter.Export(backbone, head, labels.Count, Metadata(card)).ToByteArray();
            head.save_safetensors(safetensors);
        }
        else
        {
            var architecture = new Core.Datasets.TrainParameters { Model = trained.Architecture, Channels = trained.Channels, InputSize = trained.InputSize };
            using var model = ModelFactory.Create(architecture, labels.Count);
            model.load(weightsPath);
            model.eval();
            var onnx = OnnxExporter.Export(trained.Architecture, model.state_dict(), input, labels.Count, Metadata(card), card.Flip);
            files[ModelCard.OnnxFile] = onnx.ToByteArray();
            model.save_safetensors(safetensors);
        }
        files[ModelCard.WeightsFile] = File.ReadAllBytes(safetensors);
        File.Delete(safetensors);

        var output = run.PathOf(ExportStage.Output);
        Directory.CreateDirectory(output);
        var versions = ExportedModel.Versions(live);
        var hashes = files.ToDictionary(f => f.Key, f => ContentHash.OfBytes(f.Value), StringComparer.Ordinal);
        var recorded = versions.ToDictionary(v => v, v => Recorded(run.PreviousOutputs, v));
        var damaged = versions.ToDictionary(v => v, v => Damage(live, v, recorded[v]));
        // A version is this content if the lock file recorded exactly these files for it; one exported before any
        // record (or whose record is lost) is compared byte for byte.
        bool Holds(int v) => recorded[v].Count > 0
            ? recorded[v].OrderBy(p => p.Key, StringComparer.Ordinal).SequenceEqual(hashes.OrderBy(p => p.Key, StringComparer.Ordinal))
            : SameContent(Path.Combine(live, Name(v)), files);
        if (versions.FirstOrDefault(v => damaged[v] is not null && !Holds(v)) is var lost and > 0)
        {
            throw new PipelineException(
                $"{damaged[lost]!.Value.What} since it was exported, and the model exported now is not version {lost}'s, so it cannot be "
                + $"written again: put the file back from a copy, or delete export/{lost} to drop that version, and run again",
                DisplayPath.FromCurrentDirectory(damaged[lost]!.Value.Path));
        }
        foreach (var existing in versions)
        {
            if (damaged[existing] is { } damage)
            {
                // The same model gives the same bytes: the damaged version is written again, never carried forward.
                WriteVersion(Path.Combine(output, Name(existing)), files);
                run.Log($"  {DisplayPath.FromCurrentDirectory(damage.Path)} was {damage.What} since it was exported: version {existing} is written again from the same model");
            }
            else
            {
                CopyFolder(Path.Combine(live, Name(existing)), Path.Combine(output, Name(existing)));
            }
        }
        int version;
        if (versions.Count > 0 && Holds(versions[^1]))
        {
            version = versions[^1];
            run.Log($"  the exported model is unchanged: version {version} stays the latest");
        }
        else
        {
            version = versions.Count > 0 ? versions[^1] + 1 : 1;
            if (versions.SkipLast(1).LastOrDefault(Holds) is var earlier and > 0)
            {
                // A new number all the same: what is served changes back, and a server watching for new versions sees it.
                run.Log($"  the exported content is that of version {earlier} again; it is published as version {version}");
            }
            WriteVersion(Path.Combine(output, Name(version)), files);
            run.Log($"  exported version {version}: {trained.Architecture}, {labels.Count} classes, accuracy {accuracy:0.0000} "
                + $"(gate {minimum:0.####}); {files[ModelCard.OnnxFile].Length / 1024.0:0} KiB ONNX, {files[ModelCard.WeightsFile].Length / 1024.0:0} KiB safetensors");
        }
        File.WriteAllText(Path.Combine(output, ExportedModel.LatestPointer), Name(version) + "\n");
        run.Log($"  serve it: build/.bin/pipeline serve --model {DisplayPath.FromCurrentDirectory(live)}");
    }

    private static string Name(int version) => version.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// export.baseline "latest": the model must not be more than export.max_drop below the accuracy of the version
    /// served now (its model card's), as TFX's Evaluator compares a candidate with the blessed baseline. The first
    /// export has no baseline.
    /// </summary>
    private static void CheckBaseline(StageContext context, string live, double accuracy, string? split, string metricsPath, Action<string> log)
    {
        if (context.Dataset.Export.Baseline != "latest" || ExportedModel.Latest(live) is not { } version)
        {
            return;
        }
        var cardPath = Path.Combine(live, Name(version), ModelCard.FileName);
        JsonObject metrics;
        try
        {
            metrics = ModelCard.Read(Path.Combine(live, Name(version))).Metrics;
        }
        catch (PipelineException e)
        {
            throw new PipelineException($"export.baseline is \"latest\", but version {version}'s model card cannot be read ({e.Problem}); "
                + $"delete export/{version} if it is damaged, or remove export.baseline", DisplayPath.FromCurrentDirectory(cardPath), e);
        }
        if (metrics["accuracy"] is not JsonValue value || !value.TryGetValue<double>(out var baseline))
        {
            throw new PipelineException($"export.baseline is \"latest\", but version {version}'s model card has no accuracy; delete export/{version} if it is damaged, or remove export.baseline",
                DisplayPath.FromCurrentDirectory(cardPath));
        }
        var baselineSplit = metrics["split"]?.ToString();
        var maxDrop = context.Dataset.Export.MaxDrop ?? 0;
        var drop = baseline - accuracy;
        // Rounded as printed: a drop shown as 0.0020 with max_drop 0.002 passes.
        if (Math.Round(drop, 6) > maxDrop)
        {
            throw new PipelineException(
                $"accuracy {accuracy:0.0000} on the {split} split is {drop:0.0000} below {baseline:0.0000}, version {version}'s "
                + $"(the latest export{(baselineSplit is not null && baselineSplit != split ? $", measured on the {baselineSplit} split" : "")}), "
                + $"more than export.max_drop {maxDrop:0.####} allows: the model is not exported and export/latest stays {version}. "
                + "Train better, or raise export.max_drop if the drop is acceptable",
                DisplayPath.FromCurrentDirectory(metricsPath));
        }
        log($"  baseline: accuracy {accuracy:0.0000} against version {version}'s {baseline:0.0000} (export.max_drop {maxDrop:0.####})");
    }

    /// <summary>The evaluated figures the card carries, from eval/metrics.json.</summary>
    private static JsonObject ReadMetrics(string path)
    {
        JsonNode? json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new PipelineException($"not valid JSON ({e.Message}); rebuild Evaluate with --target=Evaluate --force", DisplayPath.FromCurrentDirectory(path), e);
        }
        if (json?["accuracy"] is not JsonValue accuracy || !accuracy.TryGetValue<double>(out _))
        {
            throw new PipelineException("has no accuracy; rebuild Evaluate with --target=Evaluate --force", DisplayPath.FromCurrentDirectory(path));
        }
        var metrics = new JsonObject();
        foreach (var key in new[] { "accuracy", "top5_accuracy", "loss", "examples", "split" })
        {
            if (json[key] is { } value)
            {
                metrics[key] = value.DeepClone();
            }
        }
        return metrics;
    }

    /// <summary>What the export was built from: the upstream stages' fingerprints (from the lock file) and the checkpoint's hash.</summary>
    private static JsonObject Lineage(StageContext context, string weightsPath)
    {
        var lockFile = LockFile.Load(Path.Combine(context.ArtifactsDirectory, LockFile.FileName));
        var lineage = new JsonObject();
        foreach (var stage in new[] { "labels", "records", "bottlenecks", "train", "evaluate" })
        {
            if (lockFile.Find(stage) is { } entry)
            {
                lineage[stage] = entry.Fingerprint;
            }
        }
        lineage["checkpoint"] = ContentHash.OfFile(weightsPath);
        return lineage;
    }

    private static IEnumerable<KeyValuePair<string, string>> Metadata(ModelCard card) =>
    [
        new("dataset", card.Dataset),
        new("architecture", card.Architecture),
        new("classes", string.Join("\n", card.Classes)),
        new("input", $"{card.Input.Channels}x{card.Input.Size}x{card.Input.Size}, (pixel/255 - mean)/std, mean [{string.Join(", ", card.Input.Mean.Select(F))}], std [{string.Join(", ", card.Input.Std.Select(F))}]"),
    ];

    private static string F(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The hashes pipeline.lock.json recorded for a version's files, by file name; empty when it recorded none.</summary>
    private static Dictionary<string, string> Recorded(IReadOnlyDictionary<string, string> outputs, int version)
    {
        var prefix = $"{ExportStage.Output}/{Name(version)}/";
        return outputs.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal) && !p.Key[prefix.Length..].Contains('/'))
            .ToDictionary(p => p.Key[prefix.Length..], p => p.Value, StringComparer.Ordinal);
    }

    /// <summary>The first of the version's recorded files that is no longer as recorded, and what happened to it; null when all are.</summary>
    private static (string Path, string What)? Damage(string live, int version, IReadOnlyDictionary<string, string> recorded)
    {
        foreach (var (name, hash) in recorded.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var path = Path.Combine(live, Name(version), name);
            if (!File.Exists(path))
            {
                return (path, "deleted");
            }
            if (ContentHash.OfFile(path) != hash)
            {
                return (path, "modified");
            }
        }
        return null;
    }

    private static void WriteVersion(string folder, IReadOnlyDictionary<string, byte[]> files)
    {
        Directory.CreateDirectory(folder);
        foreach (var (name, bytes) in files)
        {
            File.WriteAllBytes(Path.Combine(folder, name), bytes);
        }
    }

    private static bool SameContent(string folder, IReadOnlyDictionary<string, byte[]> files)
    {
        var existing = Directory.EnumerateFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        return existing.SequenceEqual(files.Keys)
            && files.All(f => File.ReadAllBytes(Path.Combine(folder, f.Key)).AsSpan().SequenceEqual(f.Value));
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
