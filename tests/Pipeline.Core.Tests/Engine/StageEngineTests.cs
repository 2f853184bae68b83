using System.Text.Json.Nodes;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Engine;

public sealed class StageEngineTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _artifacts;
    private readonly StageEngine _engine;
    private readonly string _input;

    public StageEngineTests()
    {
        _artifacts = _dir.Combine("artifacts/data");
        Directory.CreateDirectory(_artifacts);
        _engine = new StageEngine(_artifacts, _dir.Path, FileHashCache.InMemory(), _ => { });
        _input = _dir.WriteText("inputs/train.csv", "a.jpg,cat\n");
    }

    public void Dispose() => _dir.Dispose();

    private FakeStage Built(FakeStage stage)
    {
        Assert.True(_engine.Run(stage).Ran);
        return stage;
    }

    [Fact]
    public void Never_built_stage_is_stale_because_it_has_no_lock_entry()
    {
        var status = _engine.Check(new FakeStage("labels", _input));

        Assert.False(status.IsFresh);
        Assert.Equal(["never built (no entry in pipeline.lock.json)"], status.Reasons);
    }

    [Fact]
    public void Built_stage_is_fresh_and_a_second_run_does_nothing()
    {
        var stage = Built(new FakeStage("labels", _input));

        var status = _engine.Check(stage);
        var again = _engine.Run(stage);

        Assert.True(status.IsFresh);
        Assert.StartsWith("up to date", status.Summary);
        Assert.False(again.Ran);
        Assert.Equal(1, stage.Runs);
    }

    [Fact]
    public void Changed_parameter_is_named_with_old_and_new_value()
    {
        var stage = Built(new FakeStage("records", _input));
        stage.Parameters["size"] = 8;

        var status = _engine.Check(stage);

        Assert.False(status.IsFresh);
        Assert.Equal(["records.size 4 → 8"], status.Reasons);
    }

    [Fact]
    public void Added_and_removed_parameters_are_named()
    {
        var stage = Built(new FakeStage("records", _input));
        stage.Parameters.Remove("size");
        stage.Parameters["quality"] = 90;

        var status = _engine.Check(stage);

        Assert.Equal(["records.quality set to 90", "records.size removed (was 4)"], status.Reasons);
    }

    [Fact]
    public void Same_number_spelled_differently_does_not_make_a_stage_stale()
    {
        var stage = Built(new FakeStage("records", _input));
        stage.Parameters["size"] = 4.0;

        Assert.True(_engine.Check(stage).IsFresh);
    }

    [Fact]
    public void New_optional_parameter_left_null_does_not_make_a_stage_stale()
    {
        var stage = Built(new FakeStage("records", _input));
        stage.Parameters["epochs"] = null;

        Assert.True(_engine.Check(stage).IsFresh);
    }

    [Fact]
    public void Changed_input_content_is_named()
    {
        var stage = Built(new FakeStage("labels", _input));
        File.AppendAllText(_input, "b.jpg,dog\n");

        var status = _engine.Check(stage);

        Assert.Equal(["input train.csv changed"], status.Reasons);
    }

    [Fact]
    public void Added_input_is_named()
    {
        var stage = Built(new FakeStage("labels", _input));
        stage.Inputs.Add(_dir.WriteText("inputs/eval.csv", "c.jpg,cat\n"));

        Assert.Equal(["input eval.csv added"], _engine.Check(stage).Reasons);
    }

    [Fact]
    public void Missing_input_file_makes_the_stage_stale_and_a_run_an_error_naming_it()
    {
        var stage = Built(new FakeStage("labels", _input));
        File.Delete(_input);

        var status = _engine.Check(stage);
        var error = Assert.Throws<PipelineException>(() => _engine.Run(stage));

        Assert.Equal(["input inputs/train.csv missing"], status.Reasons);
        Assert.Contains("inputs/train.csv", error.Message);
    }

    [Fact]
    public void Implementation_version_bump_makes_the_stage_stale()
    {
        var stage = Built(new FakeStage("labels", _input));
        stage.ImplementationVersion = 2;

        Assert.Equal(["implementation changed (v1 → v2)"], _engine.Check(stage).Reasons);
    }

    [Fact]
    public void Deleted_output_is_named()
    {
        var stage = Built(new FakeStage("labels", _input));
        File.Delete(Path.Combine(_artifacts, stage.Output));

        Assert.Equal(["output labels.out missing"], _engine.Check(stage).Reasons);
    }

    [Fact]
    public void Edited_output_is_named()
    {
        var stage = Built(new FakeStage("labels", _input));
        File.AppendAllText(Path.Combine(_artifacts, stage.Output), "tampered");

        Assert.Equal(["output labels.out modified since it was built"], _engine.Check(stage).Reasons);
    }

    [Fact]
    public void Change_to_one_stage_leaves_an_unrelated_stage_fresh()
    {
        var other = _dir.WriteText("inputs/other.txt", "x");
        var labels = Built(new FakeStage("labels", _input));
        var vocabulary = Built(new FakeStage("vocabulary", other));

        labels.Parameters["size"] = 5;
        File.AppendAllText(_input, "more\n");

        Assert.False(_engine.Check(labels).IsFresh);
        Assert.True(_engine.Check(vocabulary).IsFresh);
    }

    [Fact]
    public void Upstream_rebuild_with_identical_outputs_keeps_downstream_fresh()
    {
        var upstream = Built(new FakeStage("labels", _input));
        var downstream = Built(new FakeStage("records", Path.Combine(_artifacts, upstream.Output)));

        var rebuild = _engine.Run(upstream, force: true);

        Assert.True(rebuild.Ran);
        Assert.False(rebuild.OutputsChanged);
        Assert.True(_engine.Check(downstream).IsFresh);
    }

    [Fact]
    public void Upstream_rebuild_with_new_outputs_makes_downstream_stale_naming_the_output()
    {
        var upstream = Built(new FakeStage("labels", _input));
        var downstream = Built(new FakeStage("records", Path.Combine(_artifacts, upstream.Output)));
        File.AppendAllText(_input, "b.jpg,dog\n");

        var rebuild = _engine.Run(upstream);

        Assert.True(rebuild.OutputsChanged);
        Assert.Equal(["input labels.out changed"], _engine.Check(downstream).Reasons);
    }

    [Fact]
    public void Stage_that_throws_halfway_is_not_fresh_and_leaves_the_old_output_and_no_temporary_files()
    {
        var stage = Built(new FakeStage("labels", _input));
        var output = Path.Combine(_artifacts, stage.Output);
        var before = File.ReadAllBytes(output);
        File.AppendAllText(_input, "b.jpg,dog\n");
        stage.FailHalfway = true;

        Assert.Throws<InvalidOperationException>(() => _engine.Run(stage));

        Assert.False(_engine.Check(stage).IsFresh);
        Assert.Equal(before, File.ReadAllBytes(output));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_artifacts, ".tmp")));
    }

    [Fact]
    public void Replaced_outputs_are_gone_when_the_run_returns()
    {
        // Thousands of files take far longer to delete than the lock file takes to write: a run that did not wait
        // for the deletion would return with them still in .tmp.
        var stage = new ManyFilesStage(1500);

        for (var run = 0; run < 2; run++)
        {
            _engine.Run(stage, force: true);

            Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_artifacts, ".tmp")));
            Assert.Equal(1500, Directory.GetFiles(Path.Combine(_artifacts, "many")).Length);
        }
    }

    /// <summary>Writes a folder of small files, so replacing it means deleting thousands of them.</summary>
    private sealed class ManyFilesStage(int files) : IStage
    {
        public string Name => "many";

        public int ImplementationVersion => 1;

        public StageDeclaration Declare() => new([], new JsonObject(), ["many"]) { Cacheable = false };

        public void Run(StageRun run)
        {
            var folder = run.PathOf("many");
            Directory.CreateDirectory(folder);
            for (var i = 0; i < files; i++)
            {
                File.WriteAllText(Path.Combine(folder, $"{i}.txt"), "x");
            }
        }
    }

    [Fact]
    public void Stage_that_throws_on_its_first_build_leaves_no_output_and_no_lock_entry()
    {
        var stage = new FakeStage("labels", _input) { FailHalfway = true };

        Assert.Throws<InvalidOperationException>(() => _engine.Run(stage));

        Assert.False(File.Exists(Path.Combine(_artifacts, stage.Output)));
        Assert.Null(LockFile.Load(_engine.LockPath).Find("labels"));
    }

    [Fact]
    public void Forced_run_rebuilds_a_fresh_stage_and_says_it_was_forced()
    {
        var stage = Built(new FakeStage("labels", _input));

        var outcome = _engine.Run(stage, force: true);

        Assert.True(outcome.Ran);
        Assert.Equal(["forced (--force)"], outcome.StatusBefore.Reasons);
        Assert.Equal(2, stage.Runs);
    }

    [Fact]
    public void Lock_file_is_identical_after_an_identical_rebuild_and_lists_keys_sorted()
    {
        var stage = Built(new FakeStage("labels", _input));
        var first = File.ReadAllText(_engine.LockPath);

        _engine.Run(stage, force: true);

        Assert.Equal(first, File.ReadAllText(_engine.LockPath));
        var keys = JsonNode.Parse(first)!["stages"]!["labels"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Equal(keys.Order(StringComparer.Ordinal), keys);
    }

    [Fact]
    public void Stage_that_does_not_write_its_declared_output_fails_and_stays_stale()
    {
        var stage = new NoOutputStage();

        var error = Assert.Throws<PipelineException>(() => _engine.Run(stage));

        Assert.Contains("declared output nothing.txt", error.Message);
        Assert.False(_engine.Check(stage).IsFresh);
    }

    [Fact]
    public void Deleting_an_output_folder_that_came_out_empty_makes_the_stage_stale()
    {
        var stage = new EmptyFolderStage();
        _engine.Run(stage);
        Assert.True(_engine.Check(stage).IsFresh);

        Directory.Delete(Path.Combine(_artifacts, "logs"));

        Assert.Equal(["output logs/ missing"], _engine.Check(stage).Reasons);
    }

    [Fact]
    public void Leftovers_of_a_killed_run_are_removed_by_the_next_run_of_any_stage()
    {
        var leftover = Path.Combine(_artifacts, ".tmp", "records-0123456789abcdef");
        Directory.CreateDirectory(leftover);
        File.WriteAllText(Path.Combine(leftover, "train-00000-of-00004.tfrecord"), "partial");

        _engine.Run(new FakeStage("labels", _input));

        Assert.False(Directory.Exists(leftover));
    }

    [SmallDiskFact]
    public void Lock_file_that_cannot_be_written_for_a_full_disk_leaves_the_previous_outputs_and_record_untouched()
    {
        using var disk = new SmallDisk(kilobytes: 256);
        var artifacts = disk.Combine("artifacts/data");
        var engine = new StageEngine(artifacts, disk.Path, FileHashCache.InMemory(), _ => { });
        var stage = new FakeStage("records", _input);
        engine.Run(stage);
        var output = Path.Combine(artifacts, stage.Output);
        var outputBefore = File.ReadAllBytes(output);
        var lockBefore = File.ReadAllBytes(engine.LockPath);
        stage.Parameters["size"] = 8;
        // The new output is written in full; then nothing is left for the lock file.
        stage.AfterWriting = () => disk.Fill();

        Assert.ThrowsAny<Exception>(() => engine.Run(stage));

        Assert.Equal(outputBefore, File.ReadAllBytes(output));
        Assert.Equal(lockBefore, File.ReadAllBytes(engine.LockPath));
        Assert.Equal(["records.size 4 → 8"], engine.Check(stage).Reasons);
        Assert.Equal([LockFile.FileName, stage.Output], Directory.GetFiles(artifacts).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(artifacts, ".tmp")));
    }

    [SmallDiskFact]
    public void Output_that_does_not_fit_on_the_disk_is_one_error_naming_the_file_and_the_full_disk()
    {
        using var disk = new SmallDisk(kilobytes: 64);
        var artifacts = disk.Combine("artifacts/data");
        var engine = new StageEngine(artifacts, disk.Path, FileHashCache.InMemory(), _ => { });
        var big = _dir.WriteBytes("inputs/big.bin", new byte[256 * 1024]);

        var error = Assert.Throws<PipelineException>(() => engine.Run(new FakeStage("records", big)));

        Assert.Matches(@"^artifacts/data/\.tmp/records-[0-9a-f]{32}/records\.out: the disk is full \(No space left on device\)", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(artifacts, ".tmp")));
    }

    [SmallDiskFact]
    public void Lock_file_that_does_not_fit_on_the_disk_is_one_error_naming_it_and_the_full_disk()
    {
        using var disk = new SmallDisk(kilobytes: 256);
        var artifacts = disk.Combine("artifacts/data");
        var engine = new StageEngine(artifacts, disk.Path, FileHashCache.InMemory(), _ => { });
        var stage = new FakeStage("labels", _input) { AfterWriting = () => disk.Fill() };

        var error = Assert.Throws<PipelineException>(() => engine.Run(stage));

        Assert.StartsWith($"artifacts/data/{LockFile.FileName}: the disk is full", error.Message);
        Assert.Contains(": the disk is full (No space left on device)", error.Message);
        Assert.False(File.Exists(engine.LockPath));
        Assert.False(File.Exists(Path.Combine(artifacts, stage.Output)));
    }

    private sealed class EmptyFolderStage : IStage
    {
        public string Name => "logs";

        public int ImplementationVersion => 1;

        public StageDeclaration Declare() => new([], new JsonObject(), ["logs"]);

        public void Run(StageRun run) => Directory.CreateDirectory(run.PathOf("logs"));
    }

    private sealed class NoOutputStage : IStage
    {
        public string Name => "empty";

        public int ImplementationVersion => 1;

        public StageDeclaration Declare() => new([], new JsonObject(), ["nothing.txt"]);

        public void Run(StageRun run)
        {
        }
    }

    [Fact]
    public void A_new_lock_file_left_beside_the_old_one_by_a_killed_run_is_deleted_by_the_next_run()
    {
        var leftover = Path.Combine(_artifacts, $".{LockFile.FileName}.4242.tmp");
        File.WriteAllText(leftover, "{}");

        _engine.Run(new FakeStage("labels", _input));

        Assert.False(File.Exists(leftover));
        Assert.True(File.Exists(_engine.LockPath));
    }
}
