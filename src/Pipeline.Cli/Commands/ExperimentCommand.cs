using System.CommandLine;
using System.Text;
using Pipeline.Cli.Composition;
using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Experiments;

namespace Pipeline.Cli.Commands;

/// <summary>
/// `pipeline exp run|show|apply`: build variations of a dataset without editing dataset.json, list the recorded runs
/// side by side, and write a run's parameters into dataset.json. Also `pipeline metrics diff` and `params diff`.
/// </summary>
internal static class ExperimentCommand
{
    public static Command Create()
    {
        var command = new Command("exp", "Experiments: build variations with --set, list and compare the recorded runs, apply one to dataset.json");
        command.Subcommands.Add(Run());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Apply());
        return command;
    }

    private static Command Run()
    {
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var cache = CommonOptions.Cache();
        var artifacts = CommonOptions.Artifacts();
        var set = CommonOptions.Set();
        set.Description = "FIELD=VALUE over dataset.json's; FIELD=V1,V2,V3 runs one build per value, and several such options run every combination (a grid)";
        var target = new Option<string>("--target") { Description = "The stage each run builds up to", DefaultValueFactory = _ => "evaluate" };
        var command = new Command("run", "Build the dataset with parameters set over dataset.json's (one run, or a grid), each run restored from the run-cache when it was built before, and record each run")
        {
            dataset, root, cache, artifacts, set, target,
        };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
            };
            var repositoryRoot = CommonOptions.FindRoot(parse.GetValue(root));
            var artifactsRoot = CommonOptions.ArtifactsRoot(parse, artifacts);
            var grid = DatasetOverride.Grid(parse.GetValue(set) ?? []);
            // Every run's parameters are checked before the first one builds: a bad third value must not cost two trainings.
            var pipelines = grid.Select(overrides => Chain.Open(repositoryRoot, parse.GetValue(dataset)!, Console.WriteLine, artifactsRoot, parse.GetValue(cache), overrides: overrides)).ToList();
            var stage = pipelines[0].Stage(parse.GetValue(target)!).Name;
            if (pipelines[0].Chain(stage).All(s => s.Name != "train"))
            {
                throw new PipelineException($"--target {stage} stops before Train, and a run is what a model was trained from: give --target train or a later stage");
            }
            var records = new List<ExperimentRecord>();
            for (var i = 0; i < pipelines.Count; i++)
            {
                var pipeline = pipelines[i];
                var label = pipeline.Dataset.Overrides.Count == 0 ? "dataset.json as it is" : string.Join(" ", pipeline.Dataset.Overrides);
                Console.WriteLine($"== run {i + 1} of {pipelines.Count}: {label}");
                pipeline.Build(stage, new BuildOptions { Record = true, Cancellation = cancel.Token });
                var record = pipeline.Experiments.Read().Last();
                records.Add(record);
                Console.WriteLine($"== run {i + 1} of {pipelines.Count} is {record.Id}: {Figures(record)}");
            }
            if (pipelines[^1].Chain(stage).Any(s => s.Name == "evaluate"))
            {
                ReportCommand.Write(pipelines[^1]);
            }
            if (records.Count > 1)
            {
                var runs = Runs(pipelines[^1]);
                Console.WriteLine();
                Console.Write(ExperimentTables.Text(runs, [.. records.Select(r => runs.Runs.First(x => x.Id == r.Id)).Distinct()], pipelines[0].Dataset.Name));
            }
            return 0;
        }));
        return command;
    }

    private static Command Show()
    {
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var artifacts = CommonOptions.Artifacts();
        var json = new Option<bool>("--json") { Description = "Print every run whole, as a JSON array" };
        var csv = new Option<bool>("--csv") { Description = "Print the table as CSV" };
        var sort = new Option<string?>("--sort") { Description = "List the best run first by this metric (e.g. accuracy; a metric ending in \"loss\" sorts lowest first)" };
        var command = new Command("show", "List the recorded runs of a dataset: the parameters that differ, the figures, train minutes, and which run the artifacts hold")
        {
            dataset, root, artifacts, json, csv, sort,
        };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            var pipeline = Open(parse, dataset, root, artifacts);
            var runs = Runs(pipeline);
            var order = ExperimentTables.Sorted(runs, parse.GetValue(sort));
            Console.Write(parse.GetValue(json) ? ExperimentTables.Json(runs, order)
                : parse.GetValue(csv) ? ExperimentTables.Csv(runs, order)
                : ExperimentTables.Text(runs, order, pipeline.Dataset.Name));
            return 0;
        }));
        return command;
    }

    private static Command Apply()
    {
        var id = new Argument<string>("run") { Description = "The run whose overrides to write into dataset.json (an id, or a prefix of one)" };
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var artifacts = CommonOptions.Artifacts();
        var command = new Command("apply", "Write a run's --set values into dataset.json, keeping the rest of the file as it is (then commit it)") { id, dataset, root, artifacts };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            var pipeline = Open(parse, dataset, root, artifacts);
            var run = Runs(pipeline).Find(parse.GetValue(id)!, revision => GitState.Resolve(pipeline.RepositoryRoot, revision));
            var path = pipeline.Dataset.DefinitionPath;
            var shown = DisplayPath.FromCurrentDirectory(path);
            var overrides = run.Overrides.Select(DatasetOverride.Parse).ToList();
            // The values must hold as overrides first (the run's own check), then as the file's own values.
            DatasetLoader.Load(path, overrides);
            var before = File.ReadAllBytes(path);
            var after = DatasetEdit.Apply(before.AsSpan().StartsWith("\uFEFF"u8) ? before[3..] : before, path, overrides, DatasetEdit.Layout.Readable);
            AtomicFile.WriteAllBytes(path, after);
            try
            {
                DatasetLoader.Load(path);
            }
            catch (PipelineException)
            {
                AtomicFile.WriteAllBytes(path, before);
                throw;
            }
            foreach (var o in overrides)
            {
                Console.WriteLine($"{shown}: {o.Field} = {o.Value}");
            }
            // The parameters the file now gives each stage, against the run's: the same, unless the file changed in more than the overrides since.
            var check = Chain.Open(pipeline.RepositoryRoot, path, Console.Error.WriteLine, CommonOptions.ArtifactsRoot(parse, artifacts));
            var now = ExperimentLog.Parameters(run.Stages.Where(s => check.Has(s.Stage)).Select(s => check.Stage(s.Stage).Declare().Parameters));
            var differ = run.Parameters.Keys.Union(now.Keys).Where(k => run.Parameters.GetValueOrDefault(k) != now.GetValueOrDefault(k)).Order(StringComparer.Ordinal).ToList();
            Console.WriteLine(differ.Count == 0
                ? $"{shown} now gives run {run.Id}'s parameters; the next build restores that run from the run-cache if the inputs and code are as they were. Commit the file to keep it."
                : $"warning: {shown} has run {run.Id}'s overrides, but the file changed in more than them since that run"
                  + $"{(run.Git is { } git ? $" (commit {git.Commit[..7]})" : "")}: {string.Join("; ", differ.Select(k => $"{k} {ExperimentRuns.Show(run.Parameters.GetValueOrDefault(k))} then, {ExperimentRuns.Show(now.GetValueOrDefault(k))} now"))}");
            return 0;
        }));
        return command;
    }

    /// <summary>`pipeline metrics diff [A] [B]` or `pipeline params diff [A] [B]`.</summary>
    public static Command Diff(string what)
    {
        var a = new Argument<string>("a") { Description = "A run id, \"current\", \"previous\" or a git revision (default: previous)", DefaultValueFactory = _ => "previous" };
        var b = new Argument<string>("b") { Description = "Likewise (default: current, the run the artifacts hold)", DefaultValueFactory = _ => "current" };
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var artifacts = CommonOptions.Artifacts();
        var diff = new Command("diff", what == "metrics"
            ? "Compare the figures of two recorded runs: each metric in both, and the change"
            : "Compare the parameters of two recorded runs: those that differ")
        {
            a, b, dataset, root, artifacts,
        };
        diff.SetAction(parse => CommonOptions.Guard(() =>
        {
            var pipeline = Open(parse, dataset, root, artifacts);
            var runs = Runs(pipeline);
            string? Resolve(string revision) => GitState.Resolve(pipeline.RepositoryRoot, revision);
            var (x, y) = (runs.Find(parse.GetValue(a)!, Resolve), runs.Find(parse.GetValue(b)!, Resolve));
            Console.Write(what == "metrics" ? ExperimentTables.MetricsDiff(x, y) : ExperimentTables.ParamsDiff(x, y));
            return 0;
        }));
        var command = new Command(what, what == "metrics" ? "The figures of recorded runs" : "The parameters of recorded runs");
        command.Subcommands.Add(diff);
        return command;
    }

    private static DatasetPipeline Open(ParseResult parse, Option<string> dataset, Option<string?> root, Option<string?> artifacts) =>
        Chain.Open(CommonOptions.FindRoot(parse.GetValue(root)), parse.GetValue(dataset)!, Console.Error.WriteLine, CommonOptions.ArtifactsRoot(parse, artifacts));

    private static ExperimentRuns Runs(DatasetPipeline pipeline) => pipeline.Runs(Console.Error.WriteLine);

    private static string Figures(ExperimentRecord record)
    {
        var text = new StringBuilder();
        foreach (var metric in ExperimentTables.ShownMetrics)
        {
            if (record.Metric(metric) is { } value)
            {
                text.Append(text.Length == 0 ? "" : ", ").Append($"{metric} {ExperimentRuns.Show(value)}");
            }
        }
        return text.Length == 0 ? "no figures yet (build up to Evaluate for them)" : text.ToString();
    }
}
