using System.Collections;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>Reads dataset.json into a <see cref="DatasetDefinition"/>, rejecting unknown keys with the list of known ones.</summary>
public static class DatasetLoader
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

    public static DatasetDefinition Load(string path)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
                // A key given twice is a mistake (which one was meant?), not something to resolve silently.
                AllowDuplicateProperties = false,
            });
        }
        catch (JsonException e)
        {
            throw new PipelineException($"not valid JSON: {e.Message}", path, e);
        }
        catch (IOException e)
        {
            throw new PipelineException($"cannot read: {e.Message}", path, e);
        }

        CheckKeys(root, typeof(DatasetDefinition), "", path);
        DatasetDefinition? definition;
        try
        {
            definition = root.Deserialize<DatasetDefinition>(Options);
        }
        catch (JsonException e)
        {
            var where = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : $" at {e.Path.TrimStart('$', '.')}";
            throw new PipelineException($"invalid dataset definition{where}: {e.Message}", path, e);
        }
        if (definition is null)
        {
            throw new PipelineException("empty dataset definition", path);
        }

        Validate(definition, path);
        if (definition.Transfer is not null && root is JsonObject top && top.ContainsKey("train"))
        {
            throw new PipelineException("has both \"train\" and \"transfer\": a transfer dataset trains only its head, with the transfer section's parameters; remove \"train\"", path);
        }
        return definition with { Directory = Path.GetDirectoryName(Path.GetFullPath(path))!, DefinitionPath = Path.GetFullPath(path) };
    }

    private static void Validate(DatasetDefinition d, string path)
    {
        if (!IsArtifactsName(d.Name))
        {
            throw new PipelineException(
                $"name \"{d.Name}\" must start with a letter or digit and hold only letters, digits, '-', '_' or '.' (it names the artifacts folder)", path);
        }
        if (d.Records.OnBadImage is not ("error" or "skip"))
        {
            throw new PipelineException($"records.on_bad_image is \"{d.Records.OnBadImage}\"; use \"error\" or \"skip\"", path);
        }
        if (d.Records.JpegQuality is < 1 or > 100)
        {
            throw new PipelineException($"records.jpeg_quality is {d.Records.JpegQuality}; use 1 to 100", path);
        }
        if (d.Records.MaxImagePixels < 1)
        {
            throw new PipelineException($"records.max_image_pixels is {d.Records.MaxImagePixels}; it must be positive", path);
        }
        if (d.Export.MinAccuracy is < 0 or > 1 || double.IsNaN(d.Export.MinAccuracy))
        {
            throw new PipelineException($"export.min_accuracy is {d.Export.MinAccuracy}; use a fraction from 0 to 1", path);
        }
        if (d.Smoke.Samples < 1)
        {
            throw new PipelineException($"smoke.samples is {d.Smoke.Samples}; check at least one image", path);
        }
        if (d.Smoke.AccuracyTolerance is < 0 or > 1 || d.Smoke.MaxProbabilityDifference is < 0 or > 1)
        {
            throw new PipelineException("smoke.accuracy_tolerance and smoke.max_probability_difference are fractions from 0 to 1", path);
        }
        if (d.Transfer is { } transfer)
        {
            var upstream = TransferBackbones.Dataset(transfer.From);
            var weights = TransferBackbones.Weights(transfer.From);
            if (transfer.From != TransferBackbones.ImageNetResNet18 && upstream is null && weights is null)
            {
                throw new PipelineException($"transfer.from is \"{transfer.From}\"; transfer from {TransferBackbones.Known}", path);
            }
            if (upstream is not null && (!IsArtifactsName(upstream) || upstream == d.Name))
            {
                throw new PipelineException($"transfer.from names dataset \"{upstream}\": give another dataset's name, as in its dataset.json", path);
            }
            if (weights is null && (transfer.Architecture is not null || transfer.InputSize is not null || transfer.Channels is not null || transfer.Normalization is not null))
            {
                throw new PipelineException("transfer.architecture, input_size, channels and normalization describe a weights file; with transfer.from " +
                    $"\"{transfer.From}\" the backbone says them itself: remove them", path);
            }
            if (weights is not null)
            {
                if (weights.Length == 0 || Path.GetExtension(weights).ToLowerInvariant() is not (".pt" or ".pth" or ".safetensors"))
                {
                    throw new PipelineException($"transfer.from names the weights file \"{weights}\": give a .pt, .pth or .safetensors state dict", path);
                }
                if (transfer.Architecture is not ("cnn" or "resnet18" or "resnet34" or "resnet50"))
                {
                    throw new PipelineException($"transfer.architecture is {(transfer.Architecture is null ? "missing" : $"\"{transfer.Architecture}\"")}: "
                        + "say which network the weights file holds: cnn, resnet18, resnet34 or resnet50", path);
                }
                if (transfer.Architecture == "cnn" && (transfer.InputSize is null || transfer.Normalization is null))
                {
                    throw new PipelineException("transfer.input_size and transfer.normalization are needed for a cnn's weights: the size and normalization it was trained with", path);
                }
                if (transfer.Channels is not (null or 1 or 3) || (transfer.Channels == 1 && transfer.Architecture != "cnn") || transfer.InputSize is < 1)
                {
                    throw new PipelineException($"transfer.channels is {transfer.Channels} and input_size {transfer.InputSize}: the ResNets read 3 channels, a cnn 1 or 3, at a positive size", path);
                }
            }
            if (transfer.FineTune is { } fineTune)
            {
                if (weights is null && upstream is null)
                {
                    throw new PipelineException($"transfer.fine_tune trains the backbone's last block, which needs a backbone TorchSharp can train: weights:PATH or dataset:NAME, not {transfer.From}", path);
                }
                if (fineTune.Steps < 1 || fineTune.BatchSize < 1 || !(fineTune.LearningRate > 0) || !double.IsFinite(fineTune.LearningRate))
                {
                    throw new PipelineException("transfer.fine_tune.steps and batch_size must be at least 1, and learning_rate positive", path);
                }
            }
            if (transfer.TrainSteps < 1 || transfer.BatchSize < 1 || transfer.StepsPerEval < 1)
            {
                throw new PipelineException("transfer.train_steps, transfer.batch_size and transfer.steps_per_eval must be at least 1", path);
            }
            if (transfer.LearningRate <= 0 || !double.IsFinite(transfer.LearningRate))
            {
                throw new PipelineException($"transfer.learning_rate is {transfer.LearningRate}; it must be positive", path);
            }
        }
        var splits = DeclaredSplits(d.Source);
        foreach (var (split, shards) in d.Records.Shards)
        {
            if (shards < 1)
            {
                throw new PipelineException($"records.shards.{split} is {shards}; a split needs at least one shard", path);
            }
            if (!splits.Contains(split))
            {
                throw new PipelineException($"records.shards names split \"{split}\", which the source does not have; its splits: {string.Join(", ", splits)}", path);
            }
        }
        if (d.Source is IdxSourceDefinition idx)
        {
            CheckLabelList(idx.ClassNames, "source.class_names", path);
            foreach (var (split, subset) in idx.Splits)
            {
                if (subset.PerClass is < 1 || subset.SkipPerClass < 0)
                {
                    throw new PipelineException(
                        $"source.splits.{split}: per_class is {subset.PerClass?.ToString() ?? "null"} and skip_per_class {subset.SkipPerClass}; take at least one image per class and skip none or more", path);
                }
            }
        }
        if (d.Labels.Fixed is { } fixedLabels)
        {
            CheckLabelList(fixedLabels, "labels.fixed", path);
        }
        if (d.Source is FoldersSourceDefinition folders &&
            (folders.ValidationPercent < 0 || folders.TestPercent < 0 || folders.ValidationPercent + folders.TestPercent >= 100))
        {
            throw new PipelineException("source.validation_percent + source.test_percent must be between 0 and 100, leaving some images to train on", path);
        }
    }

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
    private static void CheckLabelList(IReadOnlyList<string> labels, string field, string path)
    {
        for (var i = 0; i < labels.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(labels[i]) || labels[i].Contains('\n') || labels[i].Contains('\r'))
            {
                throw new PipelineException($"{field}[{i}] is {(string.IsNullOrWhiteSpace(labels[i]) ? "empty" : "more than one line")}; a label is one non-empty line", path);
            }
        }
        var repeated = labels.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
        {
            throw new PipelineException($"{field} lists \"{repeated.Key}\" {repeated.Count()} times; each label once", path);
        }
    }

    /// <summary>Walks the JSON beside the record types and names any key no type declares.</summary>
    private static void CheckKeys(JsonNode? node, Type type, string where, string file)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (node is JsonArray array)
        {
            var element = ElementType(type);
            if (element is not null)
            {
                for (var i = 0; i < array.Count; i++)
                {
                    CheckKeys(array[i], element, $"{where}[{i}]", file);
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
                CheckKeys(value, dictionaryValue, Join(where, key), file);
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
                    $"{Join(where, polymorphic.TypeDiscriminatorPropertyName!)} is {(kind is null ? "missing" : $"\"{kind}\"")}; use one of: {string.Join(", ", kinds.Keys.Order())}", file);
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
        foreach (var (key, value) in obj)
        {
            if (!known.TryGetValue(key, out var propertyType))
            {
                var section = where.Length == 0 ? "the top level" : where;
                throw new PipelineException(
                    $"unknown key \"{key}\" in {section}; known keys: {string.Join(", ", known.Keys.Order(StringComparer.Ordinal))}", file);
            }
            CheckKeys(value, propertyType, Join(where, key), file);
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
