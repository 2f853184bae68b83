using Pipeline.Core.Build;
using Pipeline.Core.Records;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Records;

public sealed class RecordsSharesTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly List<string> _log = [];
    private readonly string _dataset;

    public RecordsSharesTests() =>
        // 3 + 2 = 5 shards over 4 workers: worker 0 writes two, the others one each.
        _dataset = TestDatasets.IdxDataset(_dir, train: 31, test: 11, records: """{ "shards": { "train": 3, "test": 2 } }""");

    public void Dispose() => _dir.Dispose();

    private DatasetPipeline Open(string machine, RecordsShare? part = null) =>
        DatasetPipeline.Open(_dir.Path, _dataset, _log.Add, _dir.Combine($"{machine}/artifacts"), part: part);

    private static string Records(DatasetPipeline pipeline) => Path.Combine(pipeline.ArtifactsDirectory, RecordsStage.Output);

    private DatasetPipeline Built(string machine, RecordsShare? part = null)
    {
        var pipeline = Open(machine, part);
        pipeline.Run("labels", false);
        pipeline.Run("records", false);
        return pipeline;
    }

    /// <summary>Copies each worker's records/ folder into the combining machine's, as a scheduler's gather step does.</summary>
    private void Gather(DatasetPipeline into, IEnumerable<DatasetPipeline> workers)
    {
        foreach (var worker in workers)
        {
            foreach (var file in Directory.GetFiles(Records(worker), "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(Records(into), Path.GetRelativePath(Records(worker), file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target, overwrite: true);
            }
        }
    }

    [Fact]
    public void Four_workers_write_byte_identical_shards_and_combined_they_are_the_whole_stage()
    {
        var single = Built("single");
        var workers = Enumerable.Range(0, 4).Select(i => Built($"worker{i}", new RecordsShare(i, 4))).ToList();

        Assert.Equal(["parts/part-00000-of-00004.json", "test-00001-of-00002.tfrecord", "train-00000-of-00003.tfrecord"],
            Shards.HashAll(Records(workers[0])).Keys);
        Assert.All(workers, w => Assert.False(File.Exists(Path.Combine(Records(w), RecordsStage.ManifestName))));
        var expected = Shards.HashAll(Records(single));
        foreach (var worker in workers)
        {
            foreach (var (name, hash) in Shards.HashAll(Records(worker)).Where(p => p.Key.EndsWith(".tfrecord", StringComparison.Ordinal)))
            {
                Assert.Equal(expected[name], hash);
            }
        }

        var combiner = Open("combiner");
        combiner.Run("labels", false);
        Gather(combiner, workers);
        _log.Clear();
        var outcome = combiner.Run("records", false);

        Assert.True(outcome.Ran);
        Assert.Contains(_log, l => l.Contains("combined 4 workers' shares: 5 shards, 42 examples"));
        Assert.Equal(expected, Shards.HashAll(Records(combiner)));
        Assert.True(combiner.Engine.Check(combiner.Stage("records")).IsFresh);
    }

    [Fact]
    public void A_missing_worker_is_named_and_every_shard_is_built_here_instead()
    {
        var single = Built("single");
        var workers = Enumerable.Range(0, 4).Where(i => i != 2).Select(i => Built($"worker{i}", new RecordsShare(i, 4))).ToList();
        var combiner = Open("combiner");
        combiner.Run("labels", false);
        Gather(combiner, workers);
        _log.Clear();

        combiner.Run("records", false);

        Assert.Contains(_log, l => l.Contains("not combining records/parts/: it holds workers 0, 1, 3 of 4"));
        Assert.Equal(Shards.HashAll(Records(single)), Shards.HashAll(Records(combiner)));
    }

    [Fact]
    public void A_shard_altered_after_its_worker_wrote_it_is_not_adopted()
    {
        var workers = Enumerable.Range(0, 2).Select(i => Built($"worker{i}", new RecordsShare(i, 2))).ToList();
        File.AppendAllText(Path.Combine(Records(workers[1]), "train-00001-of-00003.tfrecord"), "x");
        var combiner = Open("combiner");
        combiner.Run("labels", false);
        Gather(combiner, workers);
        _log.Clear();

        combiner.Run("records", false);

        Assert.Contains(_log, l => l.Contains("train-00001-of-00003.tfrecord is not the file its worker wrote"));
        Assert.Equal(Shards.HashAll(Records(Built("single"))), Shards.HashAll(Records(combiner)));
    }

    [Fact]
    public void A_part_that_lists_a_shard_under_another_split_is_refused()
    {
        var workers = Enumerable.Range(0, 2).Select(i => Built($"worker{i}", new RecordsShare(i, 2))).ToList();
        var part = Path.Combine(Records(workers[0]), RecordsShare.Folder, "part-00000-of-00002.json");
        File.WriteAllText(part, File.ReadAllText(part).Replace("\"split\": \"test\"", "\"split\": \"train\""));
        var combiner = Open("combiner");
        combiner.Run("labels", false);
        Gather(combiner, workers);
        _log.Clear();

        combiner.Run("records", false);

        Assert.Contains(_log, l => l.Contains("is listed under split \"train\", which has no such shard"));
        Assert.Equal(Shards.HashAll(Records(Built("single"))), Shards.HashAll(Records(combiner)));
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(4, 4)]
    [InlineData(-1, 2)]
    public void Worker_numbers_outside_the_count_are_refused(int? index, int? count)
    {
        var error = Assert.Throws<Pipeline.Core.Engine.PipelineException>(() => RecordsShare.From(index, count));

        Assert.Contains("--shard-", error.Message);
    }
}
