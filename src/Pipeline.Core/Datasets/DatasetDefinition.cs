namespace Pipeline.Core.Datasets;

/// <summary>datasets/&lt;name&gt;/dataset.json, validated into typed records.</summary>
public sealed record DatasetDefinition
{
    /// <summary>The dataset's name: its folder under artifacts/, and what --dataset and transfer.from "dataset:NAME" call it.</summary>
    public required string Name { get; init; }

    /// <summary>What the dataset is, for people.</summary>
    public string? Description { get; init; }

    /// <summary>Where the images and labels come from: "kind" is idx, csv or folders.</summary>
    public required SourceDefinition Source { get; init; }

    public LabelsParameters Labels { get; init; } = new();

    public RecordsParameters Records { get; init; } = new();

    public TrainParameters Train { get; init; } = new();

    /// <summary>Present when the model is a frozen backbone plus a head trained on its bottlenecks; then "train" is not used.</summary>
    public TransferParameters? Transfer { get; init; }

    public EvaluateParameters Evaluate { get; init; } = new();

    /// <summary>How the trained network predicts; absent (the network alone) keeps the fingerprints of datasets written before it.</summary>
    public InferenceParameters? Inference { get; init; }

    /// <summary>Whether predictions average each image and its mirror image (inference.flip).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool FlipAtInference => Inference?.Flip ?? false;

    public ExportParameters Export { get; init; } = new();

    public SmokeParameters Smoke { get; init; } = new();

    /// <summary>The folder holding dataset.json: relative paths in it are relative to this.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Directory { get; init; } = "";

    /// <summary>The dataset.json file itself, for error messages.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string DefinitionPath { get; init; } = "";

    /// <summary>The values set from the command line (--set) over the file's, in the order given; empty for the file as it is.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<DatasetOverride> Overrides { get; init; } = [];

    /// <summary>
    /// Text (an origin, an error) with the paths inside the dataset's folder written relative to it: outputs must not
    /// depend on where the checkout is or which folder the build runs from.
    /// </summary>
    public string Portable(string text)
    {
        var folder = Directory.TrimEnd('/', '\\');
        foreach (var prefix in new[] { folder, Engine.DisplayPath.FromCurrentDirectory(folder) }.Where(p => p.Length > 0 && p != "."))
        {
            text = text.Replace(prefix + "/", "", StringComparison.Ordinal);
        }
        return text;
    }

    public string Resolve(string path) =>
        Uri.TryCreate(path, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "gs"
            ? path
            : Path.GetFullPath(Path.Combine(Directory, Environment.ExpandEnvironmentVariables(path)));
}

/// <summary>Parameters of the Labels stage.</summary>
public sealed record LabelsParameters
{
    /// <summary>A fixed label list; when absent, labels are the sorted distinct labels of the train split.</summary>
    public IReadOnlyList<string>? Fixed { get; init; }

    /// <summary>With a fixed list: drop rows whose label is not in it (reported with counts) instead of failing.</summary>
    public bool DropUnknown { get; init; }
}

/// <summary>Parameters of the Records stage.</summary>
public sealed record RecordsParameters
{
    /// <summary>What <see cref="OnBadImage"/> accepts.</summary>
    public static readonly IReadOnlyList<string> BadImagePolicies = ["error", "skip"];

    /// <summary>Shards per split; a split not named here gets one shard.</summary>
    public IReadOnlyDictionary<string, int> Shards { get; init; } = new Dictionary<string, int>();

    /// <summary>Quality of the JPEG written for images that cannot pass through unchanged.</summary>
    public int JpegQuality { get; init; } = 95;

    /// <summary>"error" stops the build at the first bad image; "skip" leaves it out and lists it in records/rejects.json.</summary>
    public string OnBadImage { get; init; } = "error";

    /// <summary>Images larger than this (width × height) are refused before they are decoded.</summary>
    public long MaxImagePixels { get; init; } = 64L * 1024 * 1024;

    /// <summary>Seed of the fixed shuffle that spreads classes across shards, as the reference converter does.</summary>
    public int ShuffleSeed { get; init; } = 0;

    public int ShardsFor(string split) => Shards.TryGetValue(split, out var n) ? n : 1;
}
