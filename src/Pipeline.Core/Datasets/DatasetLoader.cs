using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>Reads dataset.json into a <see cref="DatasetDefinition"/>, rejecting unknown keys with the list of known ones.</summary>
public static partial class DatasetLoader
{
    public const string FileName = "dataset.json";

    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        AllowOutOfOrderMetadataProperties = true,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Finds a dataset by name (datasets/NAME/dataset.json under the repository) or by path (a folder or the file).</summary>
    public static string Locate(string nameOrPath, string repositoryRoot)
    {
        var candidates = new[]
        {
            nameOrPath,
            Path.Combine(nameOrPath, FileName),
            Path.Combine(repositoryRoot, "datasets", nameOrPath, FileName),
        };
        foreach (var candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }
        var known = Directory.Exists(Path.Combine(repositoryRoot, "datasets"))
            ? Directory.GetDirectories(Path.Combine(repositoryRoot, "datasets"))
                .Where(d => File.Exists(Path.Combine(d, FileName))).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal).ToArray()
            : [];
        throw new PipelineException(
            $"no dataset named \"{nameOrPath}\" (looked for {candidates[1]} and datasets/{nameOrPath}/{FileName}); known datasets: {string.Join(", ", known)}");
    }

    /// <param name="path">The dataset.json file.</param>
    /// <param name="overrides">
    /// Values set from the command line instead of the file (--set), applied to the file's text before it is read, so
    /// they are checked exactly as the file is; an error in one names the override instead of a line of the file.
    /// </param>
    public static DatasetDefinition Load(string path, IReadOnlyList<DatasetOverride>? overrides = null)
    {
        byte[] utf8;
        try
        {
            utf8 = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"cannot read: {e.Message}", path, e);
        }
        if (utf8.AsSpan().StartsWith("\uFEFF"u8))
        {
            utf8 = utf8[3..];
        }
        overrides ??= [];
        var original = new JsonSourceMap(path, utf8);
        if (overrides.Count > 0 && original.Span("") is not null)
        {
            utf8 = DatasetEdit.Apply(utf8, path, overrides, DatasetEdit.Layout.SameLines);
        }
        var map = new JsonSourceMap(path, utf8);
        foreach (var o in overrides)
        {
            // What the override wrote: its value, or the outermost key it added (an unknown key is then its error too).
            var written = o.Field;
            for (var parent = JsonSourceMap.Parent(written); parent.Length > 0 && original.Span(parent) is null; parent = JsonSourceMap.Parent(parent))
            {
                written = parent;
            }
            map.Attribute(written, $"--set {o}");
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(utf8, documentOptions: new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
                // A key given twice is a mistake (which one was meant?), not something to resolve silently.
                AllowDuplicateProperties = false,
            });
        }
        catch (JsonException e) when (map.DuplicateKey is { } duplicate)
        {
            throw new PipelineException($"not valid JSON: {duplicate.Field} is given twice; keep the one you mean", duplicate.Location, e);
        }
        catch (JsonException e)
        {
            throw new PipelineException($"not valid JSON: {JsonErrors.WithoutPosition(e.Message)}", e.LineNumber is { } line ? map.At(line, e.BytePositionInLine ?? 0) : path, e);
        }

        CheckKeys(root, typeof(DatasetDefinition), "", map);
        DatasetDefinition? definition;
        try
        {
            // From the file's own bytes, not the parsed tree, so an error's line and column are the file's.
            definition = JsonSerializer.Deserialize<DatasetDefinition>(utf8, Options);
        }
        catch (JsonException e)
        {
            throw Invalid(e, map, root);
        }
        if (definition is null)
        {
            throw new PipelineException("empty dataset definition", path);
        }

        Validate(definition, map);
        if (definition.Transfer is not null && root is JsonObject top && top.ContainsKey("train"))
        {
            throw new PipelineException("has both \"train\" and \"transfer\": a transfer dataset trains only its head, with the transfer section's parameters; remove \"train\"", map.LocateKey("train"));
        }
        return definition with { Directory = Path.GetDirectoryName(Path.GetFullPath(path))!, DefinitionPath = Path.GetFullPath(path), Overrides = overrides };
    }

    /// <summary>A value of the wrong kind, a null or a missing required key, said in the file's terms at the file's position.</summary>
    private static PipelineException Invalid(JsonException e, JsonSourceMap map, JsonNode? root)
    {
        var field = FieldPath(e.Path);
        var missing = MissingRequired().Match(e.Message);
        if (missing.Success)
        {
            var keys = missing.Groups[1].Value.Replace("'", "\"", StringComparison.Ordinal);
            return new PipelineException($"{(field.Length == 0 ? "the top level" : field)} lacks the required key {keys}", map.Locate(field), e);
        }
        // The value's start, from the map; System.Text.Json points just past the value.
        var location = map.Scalar(field) is not null || e.LineNumber is null ? map.Locate(field) : map.At(e.LineNumber.Value, e.BytePositionInLine ?? 0);
        var expected = ExpectedAt(field, root);
        var got = map.Scalar(field) ?? (Navigate(root, field) switch { JsonObject => "an object", JsonArray => "an array", _ => null });
        return expected is not null && got is not null
            ? new PipelineException($"{field} is {got}; expected {expected}", location, e)
            : new PipelineException($"invalid value{(field.Length == 0 ? "" : $" at {field}")}: {JsonErrors.WithoutPosition(e.Message)}", location, e);
    }

    /// <summary>"$.train['batch_size']" or "$.train.batch_size" → "train.batch_size"; "$.a.b[2]" → "a.b[2]".</summary>
    private static string FieldPath(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath) || jsonPath == "$")
        {
            return "";
        }
        var path = BracketedKey().Replace(jsonPath, m => "." + m.Groups[1].Value);
        return path.TrimStart('$').TrimStart('.');
    }

    private static JsonNode? Navigate(JsonNode? node, string field)
    {
        if (field.Length == 0)
        {
            return node;
        }
        foreach (Match part in PathPart().Matches(field))
        {
            node = part.Groups[1].Success ? (node as JsonObject)?[part.Groups[1].Value]
                : node is JsonArray array && int.Parse(part.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) is var i && i < array.Count ? array[i] : null;
        }
        return node;
    }

    /// <summary>What the record types declare at the field, in a person's words ("a whole number"), or null if unknown.</summary>
    private static string? ExpectedAt(string field, JsonNode? root)
    {
        var type = typeof(DatasetDefinition);
        var walked = "";
        foreach (Match part in PathPart().Matches(field))
        {
            type = Nullable.GetUnderlyingType(type!) ?? type!;
            if (part.Groups[2].Success)
            {
                type = ElementType(type);
            }
            else if (DictionaryValueType(type) is { } value)
            {
                type = value;
            }
            else
            {
                if (type.GetCustomAttribute<JsonPolymorphicAttribute>() is { } polymorphic)
                {
                    var kind = Navigate(root, walked) is JsonObject o && o[polymorphic.TypeDiscriminatorPropertyName!] is JsonValue v && v.TryGetValue<string>(out var k) ? k : null;
                    type = type.GetCustomAttributes<JsonDerivedTypeAttribute>().FirstOrDefault(a => (string?)a.TypeDiscriminator == kind)?.DerivedType;
                }
                type = type?.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                    .FirstOrDefault(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name) == part.Groups[1].Value)?.PropertyType;
            }
            if (type is null)
            {
                return null;
            }
            walked = walked.Length == 0 || part.Groups[2].Success ? walked + part.Value.TrimStart('.') : $"{walked}.{part.Groups[1].Value}";
        }
        type = Nullable.GetUnderlyingType(type!) ?? type!;
        return type switch
        {
            _ when type == typeof(int) || type == typeof(long) => "a whole number",
            _ when type == typeof(double) || type == typeof(float) => "a number",
            _ when type == typeof(bool) => "true or false",
            _ when type == typeof(string) => "a string",
            _ when DictionaryValueType(type) is not null => "an object",
            _ when ElementType(type) is not null => "an array",
            _ when type.IsClass => "an object",
            _ => null,
        };
    }

    [GeneratedRegex(@"missing required properties including: (.+?)\.?\s*(Path:.*)?$")]
    private static partial Regex MissingRequired();

    [GeneratedRegex(@"\['([^']*)'\]")]
    private static partial Regex BracketedKey();

    /// <summary>One step of a field path: ".key" or "key" (group 1), or "[index]" (group 2).</summary>
    [GeneratedRegex(@"\.?([^.\[]+)|\[(\d+)\]")]
    private static partial Regex PathPart();

    /// <summary>
    /// Every parameter's range and every rule between fields, checked once, here, so that no stage meets a value it
    /// cannot use; each error points at the value in the file.
    /// </summary>
    private static void Validate(DatasetDefinition d, JsonSourceMap map)
    {
        void Require(bool holds, string field, string message)
        {
            if (!holds)
            {
                throw new PipelineException(message, map.Locate(field));
            }
        }
        Require(IsArtifactsName(d.Name), "name",
            $"name \"{d.Name}\" must start with a letter or digit and hold only letters, digits, '-', '_' or '.' (it names the artifacts folder)");
        Require(RecordsParameters.BadImagePolicies.Contains(d.Records.OnBadImage), "records.on_bad_image", $"records.on_bad_image is \"{d.Records.OnBadImage}\"; use \"error\" or \"skip\"");
        Require(d.Records.JpegQuality is >= 1 and <= 100, "records.jpeg_quality", $"records.jpeg_quality is {d.Records.JpegQuality}; use 1 to 100");
        Require(d.Records.MaxImagePixels >= 1, "records.max_image_pixels", $"records.max_image_pixels is {d.Records.MaxImagePixels}; it must be positive");
        Require(d.Export.MinAccuracy is >= 0 and <= 1, "export.min_accuracy", $"export.min_accuracy is {Number(d.Export.MinAccuracy)}; use a fraction from 0 to 1");
        Require(d.Export.Baseline is null || ExportParameters.Baselines.Contains(d.Export.Baseline), "export.baseline",
            $"export.baseline is \"{d.Export.Baseline}\"; use {string.Join(" or ", ExportParameters.Baselines.Select(b => $"\"{b}\""))} (or leave it out for no baseline)");
        Require(d.Export.MaxDrop is null or (>= 0 and <= 1), "export.max_drop", $"export.max_drop is {Number(d.Export.MaxDrop ?? 0)}; use a fraction from 0 to 1");
        Require(d.Export.MaxDrop is null || d.Export.Baseline is not null, "export.max_drop", "export.max_drop is given without export.baseline; add \"baseline\": \"latest\" to compare with the newest exported version");
        Require(d.Smoke.Samples >= 1, "smoke.samples", $"smoke.samples is {d.Smoke.Samples}; check at least one image");
        Require(d.Smoke.AccuracyTolerance is >= 0 and <= 1, "smoke.accuracy_tolerance",
            "smoke.accuracy_tolerance and smoke.max_probability_difference are fractions from 0 to 1");
        Require(d.Smoke.MaxProbabilityDifference is >= 0 and <= 1, "smoke.max_probability_difference",
            "smoke.accuracy_tolerance and smoke.max_probability_difference are fractions from 0 to 1");
        Require(!d.FlipAtInference || d.Transfer is null, "inference.flip",
            "inference.flip is true, but a transferred model is measured on the cached bottlenecks of the images as they are; leave it out");
        Require(d.Evaluate.BatchSize >= 1, "evaluate.batch_size", $"evaluate.batch_size is {d.Evaluate.BatchSize}; it must be at least 1");

        var splits = DeclaredSplits(d.Source);
        foreach (var (split, shards) in d.Records.Shards)
        {
            Require(shards >= 1, $"records.shards.{split}", $"records.shards.{split} is {shards}; a split needs at least one shard");
            Require(splits.Contains(split), $"records.shards.{split}",
                $"records.shards names split \"{split}\", which the source does not have; its splits: {string.Join(", ", splits)}");
        }
        void RequireSplit(string? split, string field) => Require(split is null || splits.Contains(split), field,
            $"{field} is \"{split}\", which the source does not have; its splits: {string.Join(", ", splits)}");
        RequireSplit(d.Evaluate.Split, "evaluate.split");
        RequireSplit(d.Train.EvalSplit, "train.eval_split");
        RequireSplit(d.Transfer?.EvalSplit, "transfer.eval_split");

        ValidateTrain(d.Train, Require);
        if (d.Transfer is { } transfer)
        {
            ValidateTransfer(d, transfer, Require);
        }
        if (d.Source is IdxSourceDefinition idx)
        {
            CheckLabelList(idx.ClassNames, "source.class_names", map);
            foreach (var (split, subset) in idx.Splits)
            {
                Require(subset.PerClass is null or >= 1 && subset.SkipPerClass >= 0, $"source.splits.{split}",
                    $"source.splits.{split}: per_class is {subset.PerClass?.ToString(CultureInfo.InvariantCulture) ?? "null"} and skip_per_class {subset.SkipPerClass}; take at least one image per class and skip none or more");
            }
        }
        if (d.Labels.Fixed is { } fixedLabels)
        {
            CheckLabelList(fixedLabels, "labels.fixed", map);
        }
        if (d.Source is FoldersSourceDefinition folders)
        {
            Require(folders.ValidationPercent >= 0 && folders.TestPercent >= 0 && folders.ValidationPercent + folders.TestPercent < 100, "source",
                "source.validation_percent + source.test_percent must be between 0 and 100, leaving some images to train on");
        }
    }

    private static void ValidateTrain(TrainParameters t, Action<bool, string, string> require)
    {
        static bool Positive(double x) => x > 0 && double.IsFinite(x);
        static bool NonNegative(double x) => x >= 0 && double.IsFinite(x);
        require(Architectures.Names.Contains(t.Model), "train.model", $"train.model is \"{t.Model}\"; use one of: {string.Join(", ", Architectures.Names)}");
        require(t.InputSize >= 1, "train.input_size", $"train.input_size is {t.InputSize}; images are resized to this many pixels square, so at least 1");
        require(t.Channels is 1 or 3, "train.channels", $"train.channels is {t.Channels}; use 1 (grayscale) or 3 (RGB)");
        ValidateNormalization(t.Normalization, t.Channels, "train", require);
        require(t.Augment.Translate >= 0, "train.augment.translate", $"train.augment.translate is {t.Augment.Translate}; shift by 0 or more pixels");
        require(t.BatchSize >= 1, "train.batch_size", $"train.batch_size is {t.BatchSize}; it must be at least 1");
        require(t.TrainSteps >= 1, "train.train_steps", $"train.train_steps is {t.TrainSteps}; train at least 1 step");
        require(t.Epochs is null or >= 1, "train.epochs", $"train.epochs is {t.Epochs}; it must be at least 1");
        require(t.StepsPerEval >= 1, "train.steps_per_eval", $"train.steps_per_eval is {t.StepsPerEval}; it must be at least 1");
        require(OptimizerParameters.Names.Contains(t.Optimizer.Name), "train.optimizer.name",
            $"train.optimizer.name is \"{t.Optimizer.Name}\"; use one of: {string.Join(", ", OptimizerParameters.Names)}");
        require(t.Optimizer.Momentum is >= 0 and < 1, "train.optimizer.momentum", $"train.optimizer.momentum is {Number(t.Optimizer.Momentum)}; use 0 or more and less than 1");
        // As torch.optim.SGD: Nesterov's look-ahead needs momentum; it means nothing to AdamW.
        require(!t.Optimizer.Nesterov || (t.Optimizer.Name == "sgd" && t.Optimizer.Momentum > 0), "train.optimizer.nesterov",
            "train.optimizer.nesterov needs optimizer \"sgd\" with a momentum above 0");
        var rate = t.LearningRate;
        require(Positive(rate.Base), "train.learning_rate.base", $"train.learning_rate.base is {Number(rate.Base)}; it must be positive");
        require(LearningRateParameters.Schedules.Contains(rate.Schedule), "train.learning_rate.schedule",
            $"train.learning_rate.schedule is \"{rate.Schedule}\"; use one of: {string.Join(", ", LearningRateParameters.Schedules)}");
        require(rate.WarmupSteps >= 0, "train.learning_rate.warmup_steps", $"train.learning_rate.warmup_steps is {rate.WarmupSteps}; use 0 or more");
        for (var i = 0; i < rate.DecaySteps.Count; i++)
        {
            require(rate.DecaySteps[i] >= 1, $"train.learning_rate.decay_steps[{i}]", $"train.learning_rate.decay_steps[{i}] is {rate.DecaySteps[i]}; a step number is at least 1");
        }
        require(Positive(rate.DecayRate), "train.learning_rate.decay_rate", $"train.learning_rate.decay_rate is {Number(rate.DecayRate)}; it must be positive");
        require(NonNegative(t.WeightDecay), "train.weight_decay", $"train.weight_decay is {Number(t.WeightDecay)}; use 0 or more");
        require(t.LabelSmoothing is >= 0 and < 1, "train.label_smoothing", $"train.label_smoothing is {Number(t.LabelSmoothing)}; use 0 or more and less than 1");
        require(t.Threads >= 0, "train.threads", $"train.threads is {t.Threads}; use 0 for one per core, or a positive count");
        require(t.ShuffleBuffer >= 1, "train.shuffle_buffer", $"train.shuffle_buffer is {t.ShuffleBuffer}; it must be at least 1");
        require(t.KeepCheckpoints >= 1, "train.keep_checkpoints", $"train.keep_checkpoints is {t.KeepCheckpoints}; keep at least 1");
        var distributed = t.Distributed;
        require(distributed.Processes >= 1, "train.distributed.processes", $"train.distributed.processes is {distributed.Processes}; use 1 (no MPI) or more");
        require(distributed.Processes < 1 || t.BatchSize % distributed.Processes == 0, "train.distributed.processes",
            $"train.batch_size {t.BatchSize} does not split into {distributed.Processes} equal shares; make the batch a multiple of train.distributed.processes");
        require(DistributedParameters.Launchers.Contains(distributed.Launcher), "train.distributed.launcher",
            $"train.distributed.launcher is \"{distributed.Launcher}\"; use one of: {string.Join(", ", DistributedParameters.Launchers)}");
    }

    private static void ValidateNormalization(NormalizationParameters n, int channels, string section, Action<bool, string, string> require)
    {
        require(n.Mean.Count == 1 || n.Mean.Count == channels, $"{section}.normalization.mean",
            $"{section}.normalization.mean has {n.Mean.Count} values for {channels} channel{(channels == 1 ? "" : "s")}: give one per channel, or one for all");
        require(n.Std.Count == 1 || n.Std.Count == channels, $"{section}.normalization.std",
            $"{section}.normalization.std has {n.Std.Count} values for {channels} channel{(channels == 1 ? "" : "s")}: give one per channel, or one for all");
        for (var i = 0; i < n.Mean.Count; i++)
        {
            require(double.IsFinite(n.Mean[i]), $"{section}.normalization.mean[{i}]", $"{section}.normalization.mean[{i}] is {Number(n.Mean[i])}; it must be a finite number");
        }
        for (var i = 0; i < n.Std.Count; i++)
        {
            require(n.Std[i] > 0 && double.IsFinite(n.Std[i]), $"{section}.normalization.std[{i}]", $"{section}.normalization.std[{i}] is {Number(n.Std[i])}; it must be positive");
        }
    }

    private static void ValidateTransfer(DatasetDefinition d, TransferParameters transfer, Action<bool, string, string> require)
    {
        var source = BackboneSource.Parse(transfer.From);
        require(source is not null, "transfer.from", $"transfer.from is \"{transfer.From}\"; transfer from {BackboneSource.Known}");
        var upstream = (source as BackboneSource.DatasetExport)?.Dataset;
        var weights = (source as BackboneSource.WeightsFile)?.Path;
        require(upstream is null || (IsArtifactsName(upstream) && upstream != d.Name), "transfer.from",
            $"transfer.from names dataset \"{upstream}\": give another dataset's name, as in its dataset.json");
        require(weights is not null || (transfer.Architecture is null && transfer.InputSize is null && transfer.Channels is null && transfer.Normalization is null), "transfer",
            "transfer.architecture, input_size, channels and normalization describe a weights file; with transfer.from " +
            $"\"{transfer.From}\" the backbone says them itself: remove them");
        if (weights is not null)
        {
            require(weights.Length > 0 && Path.GetExtension(weights).ToLowerInvariant() is ".pt" or ".pth" or ".safetensors", "transfer.from",
                $"transfer.from names the weights file \"{weights}\": give a .pt, .pth or .safetensors state dict");
            require(transfer.Architecture is not null && Architectures.Transferable.Contains(transfer.Architecture), "transfer.architecture",
                $"transfer.architecture is {(transfer.Architecture is null ? "missing" : $"\"{transfer.Architecture}\"")}: "
                + $"say which network the weights file holds: {string.Join(", ", Architectures.Transferable)}");
            require(transfer.Architecture != Architectures.Cnn || (transfer.InputSize is not null && transfer.Normalization is not null), "transfer",
                "transfer.input_size and transfer.normalization are needed for a cnn's weights: the size and normalization it was trained with");
            require(transfer.Channels is null or 1 or 3 && !(transfer.Channels == 1 && transfer.Architecture != Architectures.Cnn) && transfer.InputSize is null or >= 1,
                transfer.InputSize is < 1 ? "transfer.input_size" : "transfer.channels",
                $"transfer.channels is {transfer.Channels} and input_size {transfer.InputSize}: the ResNets read 3 channels, a cnn 1 or 3, at a positive size");
            if (transfer.Normalization is { } normalization)
            {
                ValidateNormalization(normalization, transfer.Architecture == Architectures.Cnn ? transfer.Channels ?? 1 : 3, "transfer", require);
            }
        }
        if (transfer.FineTune is { } fineTune)
        {
            require(weights is not null || upstream is not null, "transfer.fine_tune",
                $"transfer.fine_tune trains the backbone's last block, which needs a backbone TorchSharp can train: weights:PATH or dataset:NAME, not {transfer.From}");
            require(fineTune.Steps >= 1, "transfer.fine_tune.steps", $"transfer.fine_tune.steps is {fineTune.Steps}; it must be at least 1");
            require(fineTune.BatchSize >= 1, "transfer.fine_tune.batch_size", $"transfer.fine_tune.batch_size is {fineTune.BatchSize}; it must be at least 1");
            require(fineTune.LearningRate > 0 && double.IsFinite(fineTune.LearningRate), "transfer.fine_tune.learning_rate",
                $"transfer.fine_tune.learning_rate is {Number(fineTune.LearningRate)}; it must be positive");
        }
        require(transfer.TrainSteps >= 1, "transfer.train_steps", $"transfer.train_steps is {transfer.TrainSteps}; it must be at least 1");
        require(transfer.BatchSize >= 1, "transfer.batch_size", $"transfer.batch_size is {transfer.BatchSize}; it must be at least 1");
        require(transfer.StepsPerEval >= 1, "transfer.steps_per_eval", $"transfer.steps_per_eval is {transfer.StepsPerEval}; it must be at least 1");
        require(transfer.LearningRate > 0 && double.IsFinite(transfer.LearningRate), "transfer.learning_rate",
            $"transfer.learning_rate is {Number(transfer.LearningRate)}; it must be positive");
        require(transfer.Threads >= 0, "transfer.threads", $"transfer.threads is {transfer.Threads}; use 0 for one per core, or a positive count");
    }

    private static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A name is a folder under artifacts/: it must start with a letter or digit ("..", ".downloads" must not).</summary>
    private static bool IsArtifactsName(string name) =>
        !string.IsNullOrEmpty(name) && char.IsAsciiLetterOrDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>The splits a source definition will produce, known without reading any of its files.</summary>
    private static IReadOnlyList<string> DeclaredSplits(SourceDefinition source) => source switch
    {
        IdxSourceDefinition idx => SplitOrder.Sort(idx.Splits.Keys),
        CsvSourceDefinition csv => SplitOrder.Sort(csv.Splits.Keys),
        FoldersSourceDefinition folders => SplitOrder.Sort(new[] { "train" }
            .Concat(folders.ValidationPercent > 0 ? ["validation"] : [])
            .Concat(folders.TestPercent > 0 ? ["test"] : [])),
        _ => [],
    };

    /// <summary>Labels become lines of labels.txt: each must be non-empty, on one line, and listed once.</summary>
    private static void CheckLabelList(IReadOnlyList<string> labels, string field, JsonSourceMap map)
    {
        for (var i = 0; i < labels.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(labels[i]) || labels[i].Contains('\n') || labels[i].Contains('\r'))
            {
                throw new PipelineException($"{field}[{i}] is {(string.IsNullOrWhiteSpace(labels[i]) ? "empty" : "more than one line")}; a label is one non-empty line", map.Locate($"{field}[{i}]"));
            }
        }
        var repeated = labels.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
        {
            throw new PipelineException($"{field} lists \"{repeated.Key}\" {repeated.Count()} times; each label once", map.Locate(field));
        }
    }

    /// <summary>Walks the JSON beside the record types and names any key no type declares.</summary>
    private static void CheckKeys(JsonNode? node, Type type, string where, JsonSourceMap map)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (node is JsonArray array)
        {
            var element = ElementType(type);
            if (element is not null)
            {
                for (var i = 0; i < array.Count; i++)
                {
                    CheckKeys(array[i], element, $"{where}[{i}]", map);
                }
            }
            return;
        }
        if (node is not JsonObject obj)
        {
            return;
        }

        var dictionaryValue = DictionaryValueType(type);
        if (dictionaryValue is not null)
        {
            foreach (var (key, value) in obj)
            {
                CheckKeys(value, dictionaryValue, Join(where, key), map);
            }
            return;
        }

        var known = new Dictionary<string, Type>(StringComparer.Ordinal);
        var polymorphic = type.GetCustomAttribute<JsonPolymorphicAttribute>();
        if (polymorphic is not null)
        {
            var kinds = type.GetCustomAttributes<JsonDerivedTypeAttribute>().ToDictionary(a => (string)a.TypeDiscriminator!, a => a.DerivedType);
            var kind = obj[polymorphic.TypeDiscriminatorPropertyName!] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            if (kind is null || !kinds.TryGetValue(kind, out var derived))
            {
                throw new PipelineException(
                    $"{Join(where, polymorphic.TypeDiscriminatorPropertyName!)} is {(kind is null ? "missing" : $"\"{kind}\"")}; use one of: {string.Join(", ", kinds.Keys.Order(StringComparer.Ordinal))}",
                    map.Locate(Join(where, polymorphic.TypeDiscriminatorPropertyName!)));
            }
            type = derived;
            known[polymorphic.TypeDiscriminatorPropertyName!] = typeof(string);
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            {
                known[JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name)] = property.PropertyType;
            }
        }
        if (where.Length == 0)
        {
            known[DatasetSchema.SchemaKey] = typeof(string);
        }
        foreach (var (key, value) in obj)
        {
            if (!known.TryGetValue(key, out var propertyType))
            {
                var section = where.Length == 0 ? "the top level" : where;
                throw new PipelineException(
                    $"unknown key \"{key}\" in {section}; known keys: {string.Join(", ", known.Keys.Order(StringComparer.Ordinal))}", map.LocateKey(Join(where, key)));
            }
            CheckKeys(value, propertyType, Join(where, key), map);
        }
    }

    private static string Join(string where, string key) => where.Length == 0 ? key : $"{where}.{key}";

    private static Type? DictionaryValueType(Type type)
    {
        var dictionary = type.IsGenericType && type.GetGenericTypeDefinition() is var g &&
                         (g == typeof(IReadOnlyDictionary<,>) || g == typeof(Dictionary<,>) || g == typeof(IDictionary<,>));
        return dictionary ? type.GetGenericArguments()[1] : null;
    }

    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }
        return type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type) ? type.GetGenericArguments()[0] : null;
    }
}
