using System.Text.Json.Nodes;
using Pipeline.Core.Engine;
using Pipeline.Core.Experiments;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Experiments;

/// <summary>The experiments log and what is read from it: distinct runs, the current one, a run by reference, and the tables.</summary>
public sealed class ExperimentRunsTests : IDisposable
{
    private static readonly string Head = new('a', 40);
    private static readonly string Before = new('b', 40);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ExperimentRecord Run(string train, double learningRate, double accuracy, int minute, double? seconds = 90, bool restored = false, string commit = "", bool dirty = false,
        string[]? overrides = null) => new(
        ExperimentRecord.IdOf("d", [("labels", "L"), ("train", train)]),
        new DateTimeOffset(2026, 12, 1, 5, minute, 0, TimeSpan.Zero),
        "d",
        "evaluate",
        new GitState(commit.Length == 0 ? Head : commit, dirty),
        overrides ?? [],
        new Dictionary<string, string> { ["train.learning_rate.base"] = learningRate.ToString(System.Globalization.CultureInfo.InvariantCulture), ["train.model"] = "\"cnn\"" },
        [new ExperimentStage("labels", "L", 0.1, false), new ExperimentStage("train", train, seconds, restored)],
        new JsonObject { ["accuracy"] = accuracy, ["loss"] = 1 - accuracy, ["examples"] = 90, ["split"] = "test" });

    [Fact]
    public void The_log_appends_one_line_per_record_reads_them_back_and_skips_a_line_cut_short_by_a_crash()
    {
        var log = new ExperimentLog(_dir.Combine("artifacts/.experiments/d.jsonl"));
        var first = Run("T1", 0.001, 0.80, 1);
        log.Append(first);
        File.AppendAllText(log.Path, "{\"id\": \"cut sh");
        log.Append(Run("T2", 0.002, 0.85, 2));
        var warnings = new List<string>();

        var records = log.Read(warnings.Add);

        Assert.Equal([first.Id, Run("T2", 0.002, 0.85, 2).Id], records.Select(r => r.Id));
        Assert.Equal(first.Parameters, records[0].Parameters);
        Assert.Equal(first.Git, records[0].Git);
        Assert.Equal(0.80, records[0].Metric("accuracy"));
        Assert.Equal(3, File.ReadAllLines(log.Path).Length);
        Assert.Matches(@"d\.jsonl:2: not a run record .*; it is skipped$", Assert.Single(warnings));
    }

    [Fact]
    public void Runs_are_distinct_by_id_the_newest_record_of_each_and_the_current_one_matches_the_lock_file()
    {
        var (a, b) = (Run("T1", 0.001, 0.80, 1), Run("T2", 0.002, 0.85, 2));
        var again = Run("T1", 0.001, 0.80, 3, seconds: 0.1, restored: true);

        var runs = new ExperimentRuns([a, b, again], new Dictionary<string, string> { ["labels"] = "L", ["train"] = "T1", ["evaluate"] = "E" });

        Assert.Equal([b.Id, a.Id], runs.Runs.Select(r => r.Id));
        Assert.Equal(again, runs.Current);
        Assert.Equal(2, runs.TimesRecorded(a.Id));
        // Restored from the run-cache: the training took the time of the run that computed it.
        Assert.Equal(1.5, runs.TrainMinutes(again));
        Assert.Null(new ExperimentRuns([again], new Dictionary<string, string>()).TrainMinutes(again));
        Assert.Null(new ExperimentRuns([a], new Dictionary<string, string> { ["labels"] = "L", ["train"] = "T9" }).Current);
    }

    [Fact]
    public void A_run_is_found_by_id_prefix_current_previous_or_the_revision_it_was_built_at()
    {
        var (a, b, c) = (Run("T1", 0.001, 0.80, 1, commit: Before), Run("T2", 0.002, 0.85, 2, overrides: ["train.learning_rate.base=0.002"]), Run("T3", 0.004, 0.82, 3, dirty: true));
        var runs = new ExperimentRuns([a, b, c], new Dictionary<string, string> { ["labels"] = "L", ["train"] = "T2" });
        string? Revisions(string revision) => revision switch { "HEAD" => Head, "HEAD~1" => Before, _ => null };

        Assert.Equal(b, runs.Find("current", Revisions));
        Assert.Equal(a, runs.Find("previous", Revisions));
        Assert.Equal(c, runs.Find(c.Id[..5], Revisions));
        Assert.Equal(a, runs.Find("HEAD~1", Revisions));
        // At HEAD there is only a run with overrides and a run from a dirty checkout: neither is what HEAD builds.
        Assert.Contains("no run was recorded at HEAD (aaaaaaa) from a clean checkout without overrides", Assert.Throws<PipelineException>(() => runs.Find("HEAD", Revisions)).Message);
        Assert.Contains("is neither a run id", Assert.Throws<PipelineException>(() => runs.Find("nonsense", Revisions)).Message);
    }

    [Fact]
    public void Show_lists_the_parameters_that_differ_and_sorts_best_first_by_a_metric()
    {
        var (a, b, c) = (Run("T1", 0.001, 0.80, 1), Run("T2", 0.002, 0.85, 2), Run("T3", 0.004, 0.82, 3, seconds: null));
        var runs = new ExperimentRuns([a, b, c], new Dictionary<string, string> { ["labels"] = "L", ["train"] = "T2" });

        var text = ExperimentTables.Text(runs, ExperimentTables.Sorted(runs, "accuracy"), "d");

        var lines = text.Split('\n');
        Assert.Equal("   run       time              commit   train.learning_rate.base  accuracy  loss    train_min", lines[0]);
        Assert.Equal($"*  {b.Id}  2026-12-01 05:02  aaaaaaa  0.002                     0.8500    0.1500  1.5", lines[1]);
        Assert.StartsWith($"   {c.Id}", lines[2], StringComparison.Ordinal);
        Assert.EndsWith("—", lines[2], StringComparison.Ordinal);
        Assert.StartsWith($"   {a.Id}", lines[3], StringComparison.Ordinal);
        Assert.Equal([b.Id, c.Id, a.Id], ExperimentTables.Sorted(runs, "loss").Select(r => r.Id));
        Assert.Contains("no run has a metric \"f1\"; metrics: accuracy, examples, loss", Assert.Throws<PipelineException>(() => ExperimentTables.Sorted(runs, "f1")).Message);
        var csv = ExperimentTables.Csv(runs, runs.Runs).Split('\n');
        Assert.Equal("run,current,time,commit,train.learning_rate.base,accuracy,loss,train_min", csv[0]);
        var json = JsonNode.Parse(ExperimentTables.Json(runs, runs.Runs))!.AsArray();
        Assert.Equal([false, true, false], json.Select(r => r!["current"]!.GetValue<bool>()));
    }

    [Fact]
    public void Metrics_diff_gives_each_figure_in_both_runs_and_the_change_and_params_diff_the_values_that_differ()
    {
        var (a, b) = (Run("T1", 0.001, 0.80, 1), Run("T2", 0.002, 0.85, 2));

        Assert.Equal(
            $"""
            metric    {a.Id}  {b.Id}  change
            accuracy  0.8000    0.8500    +0.0500 (better)
            examples  90        90        0
            loss      0.2000    0.1500    -0.0500 (better)
            split     test      test

            """.ReplaceLineEndings("\n"),
            ExperimentTables.MetricsDiff(a, b));
        Assert.Equal(
            $"""
            parameter                 {a.Id}  {b.Id}
            train.learning_rate.base  0.001     0.002

            """.ReplaceLineEndings("\n"),
            ExperimentTables.ParamsDiff(a, b));
    }
}
