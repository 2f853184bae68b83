using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Records;

/// <summary>records/manifest.json read back: each split's shard files and example count.</summary>
public sealed class RecordsManifest
{
    private readonly Dictionary<string, (int Examples, IReadOnlyList<string> Shards)> _splits;

    private RecordsManifest(string folder, Dictionary<string, (int, IReadOnlyList<string>)> splits)
    {
        Folder = folder;
        _splits = splits;
    }

    /// <summary>The records folder the manifest describes.</summary>
    public string Folder { get; }

    public IReadOnlyList<string> Splits => SplitOrderOf(_splits.Keys);

    public bool Has(string split) => _splits.ContainsKey(split);

    public int Examples(string split) => Split(split).Examples;

    /// <summary>Full paths of the split's shard files, in name order.</summary>
    public IReadOnlyList<string> ShardPaths(string split) => Split(split).Shards.Select(s => Path.Combine(Folder, s)).ToList();

    /// <summary>The split a model is evaluated on: the one asked for, else validation, else test.</summary>
    public string HeldOutSplit(string? asked)
    {
        if (asked is not null)
        {
            return Has(asked) ? asked : throw new PipelineException(
                $"train.eval_split is \"{asked}\", but the records hold only {string.Join(", ", Splits)}");
        }
        return Has("validation") ? "validation" : Has("test") ? "test"
            : throw new PipelineException($"the dataset has no validation or test split to evaluate on (it has {string.Join(", ", Splits)}); add one");
    }

    public static RecordsManifest Read(string recordsFolder)
    {
        var path = Path.Combine(recordsFolder, RecordsStage.ManifestName);
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(path))!;
            var splits = new Dictionary<string, (int, IReadOnlyList<string>)>(StringComparer.Ordinal);
            foreach (var (name, node) in root["splits"]!.AsObject())
            {
                var shards = node!["shards"]!.AsArray().Select(s => s!.GetValue<string>()).ToList();
                splits[name] = (node["examples"]!.GetValue<int>(), shards);
            }
            return new RecordsManifest(recordsFolder, splits);
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new PipelineException($"cannot read the records manifest ({e.Message}); rebuild Records with --target=Records --force", path, e);
        }
    }

    private (int Examples, IReadOnlyList<string> Shards) Split(string split) =>
        _splits.TryGetValue(split, out var found) ? found
            : throw new PipelineException($"the records have no split \"{split}\" (they hold {string.Join(", ", Splits)})", Folder);

    private static IReadOnlyList<string> SplitOrderOf(IEnumerable<string> names) => Datasets.SplitOrder.Sort(names);
}
