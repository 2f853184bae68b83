using System.Text.Json.Nodes;
using Pipeline.Cli.Tests.TestSupport;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

/// <summary>Experiments end to end on a small learnable dataset: a grid, the table, the diffs, apply, and the export baseline.</summary>
public sealed class ExperimentCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _dataset;

    public ExperimentCommandTests() =>
        _dataset = ShapesDataset.Write(_dir, train: 120, test: 60, sections: "\"export\": { \"min_accuracy\": 0, \"baseline\": \"latest\", \"max_drop\": 0.05 }, \"smoke\": { \"accuracy_tolerance\": 1 },");

    public void Dispose() => _dir.Dispose();

    private string DatasetJson => _dir.Combine($"datasets/{_dataset}/dataset.json");

    private PipelineCommand Pipeline(params string[] args) =>
        PipelineCommand.Run([.. args, "--root", _dir.Path, "--dataset", _dataset, .. args[0] is "exp" && args[1] == "run" || args[0] == "run" ? new[] { "--cache", _dir.Combine("cache") } : []]);

    private PipelineCommand Succeeds(params string[] args)
    {
        var result = Pipeline(args);
        Assert.True(result.ExitCode == 0, $"pipeline {string.Join(" ", args)} exited {result.ExitCode}: {result.Error}\n{result.Out}");
        return result;
    }

    private JsonArray Show() => JsonNode.Parse(Succeeds("exp", "show", "--json").Out)!.AsArray();

    [Fact]
    public void A_learning_rate_grid_runs_is_listed_restores_from_the_run_cache_when_run_again_and_compares()
    {
        var definition = File.ReadAllText(DatasetJson);

        var first = Succeeds("exp", "run", "-S", "train.learning_rate.base=0.001,0.003,0.01");

        Assert.Equal(3, first.OutputLines.Count(l => l.StartsWith("Train: built", StringComparison.Ordinal)));
        var runs = Show();
        Assert.Equal(3, runs.Count);
        Assert.Equal(["train.learning_rate.base=0.001", "train.learning_rate.base=0.003", "train.learning_rate.base=0.01"],
            runs.Select(r => r!["overrides"]![0]!.GetValue<string>()));
        Assert.Equal([false, false, true], runs.Select(r => r!["current"]!.GetValue<bool>()));
        Assert.All(runs, r => Assert.InRange(r!["metrics"]!["accuracy"]!.GetValue<double>(), 0, 1));
        Assert.Equal(definition, File.ReadAllText(DatasetJson));
        var table = Succeeds("exp", "show").OutputLines;
        Assert.Equal("run       time              commit  train.learning_rate.base  accuracy  eval_accuracy  loss    train_min", table[0]);
        Assert.Equal(5, table.Count);

        // Run again: every run comes back from the run-cache; nothing trains.
        var again = Succeeds("exp", "run", "-S", "train.learning_rate.base=0.001,0.003,0.01");

        Assert.DoesNotContain(again.OutputLines, l => l.StartsWith("Train: built", StringComparison.Ordinal));
        Assert.Equal(3, again.OutputLines.Count(l => l.StartsWith("Train: restored from the run-cache", StringComparison.Ordinal)));
        Assert.Equal(3, Show().Count);
        Assert.All(Show(), r => Assert.Equal(2, r!["times_recorded"]!.GetValue<int>()));

        var ids = runs.Select(r => r!["id"]!.GetValue<string>()).ToList();
        var metrics = Succeeds("metrics", "diff", ids[0], ids[2]).OutputLines;
        Assert.Equal($"metric          {ids[0]}  {ids[2]}  change", metrics[0]);
        Assert.Matches(@"^accuracy\s+[01]\.\d{4}\s+[01]\.\d{4}\s+([+-]0\.\d{4} \((better|worse)\)|0)$", metrics[1]);
        Assert.Equal(["parameter                 " + ids[0] + "  " + ids[2], "train.learning_rate.base  0.001     0.01"], Succeeds("params", "diff", ids[0], ids[2]).OutputLines);
        // The defaults: the run before the current one, and the current one.
        Assert.StartsWith($"metric          {ids[1]}  {ids[2]}", Succeeds("metrics", "diff").OutputLines[0], StringComparison.Ordinal);

        var apply = Succeeds("exp", "apply", ids[0][..5]);

        Assert.Contains($"now gives run {ids[0]}'s parameters", apply.Out, StringComparison.Ordinal);
        Assert.Contains("\"base\": 0.001", File.ReadAllText(DatasetJson), StringComparison.Ordinal);
        Assert.Equal(definition.Replace("\"base\": 0.003", "\"base\": 0.001", StringComparison.Ordinal), File.ReadAllText(DatasetJson));
        var status = JsonNode.Parse(Succeeds("status", "--json").Out)!["stages"]!.AsArray();
        Assert.Equal("train.learning_rate.base 0.01 → 0.001", status.Single(s => s!["stage"]!.GetValue<string>() == "train")!["reasons"]![0]!.GetValue<string>());
        Assert.Contains(Succeeds("run", "evaluate").OutputLines, l => l.StartsWith("Train: restored from the run-cache", StringComparison.Ordinal));
        Assert.Equal(ids[0], Show().Single(r => r!["current"]!.GetValue<bool>())!["id"]!.GetValue<string>());
    }

    [Fact]
    public void Every_value_of_a_grid_is_checked_before_the_first_run_builds()
    {
        var result = Pipeline("exp", "run", "-S", "train.batch_size=8,0");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(["error: --set train.batch_size=0: train.batch_size is 0; it must be at least 1"], result.ErrorLines);
        Assert.False(Directory.Exists(_dir.Combine($"artifacts/{_dataset}/records")));
        Assert.Equal(["error: --target records stops before Train, and a run is what a model was trained from: give --target train or a later stage"],
            Pipeline("exp", "run", "--target", "records", "-S", "train.batch_size=8").ErrorLines);
        Assert.False(Directory.Exists(_dir.Combine($"artifacts/{_dataset}/records")));
        Assert.Contains("a grid of builds runs with `pipeline exp run",
            Assert.Single(Pipeline("run", "train", "--set", "train.batch_size=8,16").ErrorLines), StringComparison.Ordinal);
    }

    [Fact]
    public void The_export_baseline_refuses_a_model_worse_than_the_latest_export_by_more_than_max_drop_and_says_both_numbers()
    {
        Succeeds("run", "export", "--set", "train.train_steps=200");
        var card = JsonNode.Parse(File.ReadAllText(_dir.Combine($"artifacts/{_dataset}/export/1/model.json")))!;
        var good = card["metrics"]!["accuracy"]!.GetValue<double>();
        Assert.True(good > 0.6, $"the reference model reached only {good}");

        var worse = Pipeline("run", "export", "--set", "train.train_steps=1");

        Assert.Equal(1, worse.ExitCode);
        var error = Assert.Single(worse.ErrorLines);
        Assert.Matches($@"accuracy 0\.\d{{4}} on the test split is 0\.\d{{4}} below {good:0.0000}, version 1's \(the latest export\), more than export.max_drop 0\.05 allows: the model is not exported and export/latest stays 1", error);
        Assert.Equal("1", File.ReadAllText(_dir.Combine($"artifacts/{_dataset}/export/latest")).Trim());
        Assert.False(Directory.Exists(_dir.Combine($"artifacts/{_dataset}/export/2")));
        var dag = Succeeds("dag").OutputLines;
        Assert.Contains("○ Export        stale  ← Labels, Train, Evaluate", dag);
    }
}
