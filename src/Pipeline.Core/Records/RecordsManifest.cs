using Pipeline.Core.Engine;

namespace Pipeline.Core.Records;

/// <summary>records/manifest.json: each split's shard files, example count and examples per label, and how many rows were left out.</summary>
public sealed class RecordsManifest
{
    private const string What = "the records manifest";
    private const string Remedy = "rebuild Records with --target=Records --force";

    private readonly Contents _contents;

    private RecordsManifest(string folder, Contents contents)
    {
        Folder = folder;
        _contents = contents;
    }

    /// <summary>One split as the manifest lists it.</summary>
    /// <param name="Shards">Its shard files' names (in the records folder), in order.</param>
    /// <param name="Labels">Examples per label text.</param>
    public sealed record SplitRecords(int Examples, IReadOnlyList<string> Shards, IReadOnlyDictionary<string, int> Labels);

    /// <summary>The file's shape.</summary>
    /// <param name="Rejected">Rows left out (records/rejects.json lists them).</param>
    private sealed record Contents(IReadOnlyDictionary<string, SplitRecords> Splits, int Rejected);

    /// <summary>The records folder the manifest describes.</summary>
    public string Folder { get; }

    public IReadOnlyList<string> Splits => Datasets.SplitOrder.Sort(_contents.Splits.Keys);

    public bool Has(string split) => _contents.Splits.ContainsKey(split);

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

    public static void Write(string recordsFolder, IReadOnlyDictionary<string, SplitRecords> splits, int rejected) =>
        ManifestJson.Write(Path.Combine(recordsFolder, RecordsStage.ManifestName), new Contents(splits, rejected));

    /// <exception cref="PipelineException">Missing, unreadable, not a manifest, or naming a shard outside the folder.</exception>
    public static RecordsManifest Read(string recordsFolder)
    {
        var path = Path.Combine(recordsFolder, RecordsStage.ManifestName);
        var contents = ManifestJson.Read<Contents>(path, What, Remedy);
        foreach (var (split, records) in contents.Splits)
        {
            // The shards are read from the records folder; a name that leads out of it is a damaged or crafted file.
            if (records.Shards.FirstOrDefault(s => s.Length == 0 || s != Path.GetFileName(s) || s is "." or "..") is { } bad)
            {
                throw new PipelineException($"cannot read {What}: split \"{split}\" lists \"{bad}\", which is not a file name; {Remedy}", path);
            }
        }
        return new RecordsManifest(recordsFolder, contents);
    }

    private SplitRecords Split(string split) =>
        _contents.Splits.TryGetValue(split, out var found) ? found
            : throw new PipelineException($"the records have no split \"{split}\" (they hold {string.Join(", ", Splits)})", Folder);
}
