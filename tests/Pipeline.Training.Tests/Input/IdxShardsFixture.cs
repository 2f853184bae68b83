using System.Text.Json.Nodes;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Training.Tests.Input;

/// <summary>One small IDX dataset's train shards, built once for a test class: 31 examples in 3 uneven shards.</summary>
public sealed class IdxShardsFixture : IDisposable
{
    public const int Examples = 31;

    private readonly TempDirectory _dir = new();

    public IdxShardsFixture()
    {
        Shards = RecordFixtures.IdxTrainShards(_dir, Examples, shards: 3);
    }

    public IReadOnlyList<string> Shards { get; }

    /// <summary>The Records stage's count of train examples per class, in class-index order (labels.txt's).</summary>
    public IReadOnlyList<int> ManifestCounts()
    {
        var records = Path.GetDirectoryName(Shards[0])!;
        var labels = File.ReadAllLines(Path.Combine(records, "..", "labels.txt"));
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(records, "manifest.json")))!;
        return [.. labels.Select(label => (int)manifest["splits"]!["train"]!["labels"]![label]!)];
    }

    public void Dispose() => _dir.Dispose();
}
