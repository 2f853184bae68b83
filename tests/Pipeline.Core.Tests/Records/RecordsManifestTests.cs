using Pipeline.Core.Engine;
using Pipeline.Core.Records;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Records;

public sealed class RecordsManifestTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_manifest_reads_back_what_was_written()
    {
        var folder = _dir.Combine("records/x");
        folder = Path.GetDirectoryName(folder)!;
        RecordsManifest.Write(folder, new Dictionary<string, RecordsManifest.SplitRecords>
        {
            ["train"] = new(5, ["train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"], new Dictionary<string, int> { ["b"] = 3, ["a"] = 2 }),
            ["test"] = new(1, ["test-00000-of-00001.tfrecord"], new Dictionary<string, int> { ["a"] = 1 }),
        }, rejected: 0);

        var manifest = RecordsManifest.Read(folder);

        Assert.Equal(["train", "test"], manifest.Splits);
        Assert.Equal(5, manifest.Examples("train"));
        Assert.Equal(Path.Combine(folder, "train-00001-of-00002.tfrecord"), manifest.ShardPaths("train")[1]);
        // Canonical: keys sorted, so equal manifests are equal bytes.
        Assert.True(File.ReadAllText(Path.Combine(folder, RecordsStage.ManifestName)).IndexOf("\"a\"", StringComparison.Ordinal)
            < File.ReadAllText(Path.Combine(folder, RecordsStage.ManifestName)).IndexOf("\"b\"", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{ "splits": { "train": { "examples": 3, "labels": {} } }, "rejected": 0 }""", "at splits.train")]
    [InlineData("""{ "splits": { "train": { "examples": 3, "shards": null, "labels": {} } }, "rejected": 0 }""", "at splits.train.shards")]
    [InlineData("""{ "splits": { "train": { "examples": "three", "shards": [], "labels": {} } }, "rejected": 0 }""", "at splits.train.examples")]
    [InlineData("""{ "splits": { "train": { "examples": 3, "shards": ["../../etc/passwd"], "labels": {} } }, "rejected": 0 }""", "\"../../etc/passwd\", which is not a file name")]
    [InlineData("""{ "splits": """, "cannot read the records manifest")]
    public void A_damaged_manifest_is_one_error_naming_the_file_and_the_key(string json, string expected)
    {
        var folder = Path.GetDirectoryName(_dir.WriteText($"records/{RecordsStage.ManifestName}", json))!;

        var error = Assert.Throws<PipelineException>(() => RecordsManifest.Read(folder));

        Assert.Contains(expected, error.Message);
        Assert.StartsWith(Path.Combine(folder, RecordsStage.ManifestName), error.Message);
        Assert.EndsWith("rebuild Records with --target=Records --force", error.Message);
    }
}
