using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Engine;

public sealed class RunCacheTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly RunCache _cache;
    private readonly List<string> _log = [];
    private readonly string _input;

    public RunCacheTests()
    {
        _cache = new RunCache(_dir.Combine("cache"));
        _input = _dir.WriteText("inputs/train.csv", "a.jpg,cat\n");
    }

    public void Dispose() => _dir.Dispose();

    private StageEngine Engine(string artifacts = "artifacts/data")
    {
        Directory.CreateDirectory(_dir.Combine(artifacts));
        return new StageEngine(_dir.Combine(artifacts), _dir.Path, FileHashCache.InMemory(), _log.Add, _cache);
    }

    private string OutputOf(FakeStage stage, string artifacts = "artifacts/data") => File.ReadAllText(_dir.Combine($"{artifacts}/{stage.Output}"));

    [Fact]
    public void A_parameter_changed_and_changed_back_restores_the_outputs_without_running()
    {
        var engine = Engine();
        var stage = new FakeStage("train", _input);
        engine.Run(stage);
        var first = OutputOf(stage);
        stage.Parameters = new() { ["size"] = 8 };
        engine.Run(stage);
        Assert.Equal(2, stage.Runs);

        stage.Parameters = new() { ["size"] = 4 };
        var outcome = engine.Run(stage);

        Assert.True(outcome.Ran);
        Assert.True(outcome.Restored);
        Assert.Equal(2, stage.Runs);
        Assert.Equal(first, OutputOf(stage));
        Assert.True(engine.Check(stage).IsFresh);
        Assert.Contains(_log, line => line.Contains("restored from the run-cache") && line.Contains("1 file"));
    }

    [Fact]
    public void Force_computes_again_instead_of_restoring()
    {
        var engine = Engine();
        var stage = new FakeStage("train", _input);
        engine.Run(stage);

        var outcome = engine.Run(stage, force: true);

        Assert.False(outcome.Restored);
        Assert.Equal(2, stage.Runs);
    }

    [Fact]
    public void Another_artifacts_folder_sharing_the_cache_restores_a_run_made_in_the_first()
    {
        var stage = new FakeStage("train", _input);
        Engine("clone-a/artifacts/data").Run(stage);

        var elsewhere = new FakeStage("train", _input);
        var outcome = Engine("clone-b/artifacts/data").Run(elsewhere);

        Assert.True(outcome.Restored);
        Assert.Equal(0, elsewhere.Runs);
        Assert.Equal(OutputOf(stage, "clone-a/artifacts/data"), OutputOf(elsewhere, "clone-b/artifacts/data"));
    }

    [Fact]
    public void A_cache_object_that_fails_verification_is_discarded_with_a_warning_and_the_stage_runs()
    {
        var stage = new FakeStage("train", _input);
        Engine("clone-a/artifacts/data").Run(stage);
        foreach (var stored in Directory.GetFiles(_dir.Combine("cache/objects"), "*", SearchOption.AllDirectories))
        {
            File.WriteAllText(stored, "tampered");
        }

        var elsewhere = new FakeStage("train", _input);
        var outcome = Engine("clone-b/artifacts/data").Run(elsewhere);

        Assert.False(outcome.Restored);
        Assert.Equal(1, elsewhere.Runs);
        Assert.Contains(_log, line => line.StartsWith("warning: run-cache entry", StringComparison.Ordinal) && line.Contains("does not match its hash"));
        // The run that replaced it stored good bytes again.
        Assert.True(Engine("clone-c/artifacts/data").Run(new FakeStage("train", _input)).Restored);
    }

    [Fact]
    public void An_output_edited_in_place_after_it_was_stored_never_comes_back_from_the_cache()
    {
        var stage = new FakeStage("train", _input);
        Engine("clone-a/artifacts/data").Run(stage);
        var built = OutputOf(stage, "clone-a/artifacts/data");
        // Objects are hard links where possible, so this edit may reach the stored bytes too.
        File.WriteAllText(_dir.Combine($"clone-a/artifacts/data/{stage.Output}"), "edited by hand");

        var elsewhere = new FakeStage("train", _input);
        Engine("clone-b/artifacts/data").Run(elsewhere);

        Assert.Equal(built, OutputOf(elsewhere, "clone-b/artifacts/data"));
    }

    [Fact]
    public void A_stage_that_is_not_cacheable_is_neither_stored_nor_restored()
    {
        var engine = Engine();
        var stage = new FakeStage("export", _input) { Cacheable = false };
        engine.Run(stage);
        stage.Parameters = new() { ["size"] = 8 };
        engine.Run(stage);
        stage.Parameters = new() { ["size"] = 4 };

        var outcome = engine.Run(stage);

        Assert.False(outcome.Restored);
        Assert.Equal(3, stage.Runs);
        Assert.False(Directory.Exists(_dir.Combine("cache/entries/export")));
    }

    [Fact]
    public void Gc_removes_entries_unused_for_longer_than_kept_and_the_objects_only_they_need()
    {
        var engine = Engine();
        var stage = new FakeStage("train", _input);
        engine.Run(stage);
        stage.Parameters = new() { ["size"] = 8 };
        engine.Run(stage);
        Assert.Equal(2, _cache.Size().EntriesPerStage["train"]);
        Assert.Equal(2, _cache.Size().Objects);
        var old = Directory.GetFiles(_dir.Combine("cache/entries/train")).First(f => File.ReadAllText(f).Contains(engine.Check(stage).Fingerprint) is false);
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddDays(-10));

        var (entries, objects, bytes) = _cache.Collect(TimeSpan.FromDays(5));

        Assert.Equal(1, entries);
        Assert.Equal(1, objects);
        Assert.True(bytes > 0);
        Assert.Equal(1, _cache.Size().EntriesPerStage["train"]);
        Assert.Equal(1, _cache.Size().Objects);
        Assert.True(engine.Check(stage).IsFresh);
    }

    [Fact]
    public void Turned_off_by_the_word_off_and_chosen_by_an_explicit_folder_over_the_default()
    {
        Assert.Null(RunCache.Resolve("off", _dir.Combine("default")));
        Assert.Equal(_dir.Combine("shared"), RunCache.Resolve(_dir.Combine("shared"), _dir.Combine("default"))!.Directory);
    }
}
