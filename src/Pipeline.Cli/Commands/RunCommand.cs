using System.CommandLine;
using Pipeline.Cli.Composition;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline run STAGE`: builds the stage and whatever it needs, skipping what is fresh.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var stage = new Argument<string>("stage") { Description = "Stage to build: labels, records, bottlenecks (transfer datasets), train, evaluate, export or smokepredict" };
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var force = new Option<bool>("--force") { Description = "Re-run the named stage even if it is fresh" };
        var only = new Option<bool>("--only") { Description = "Build only the named stage, not the stages it depends on" };
        var cache = CommonOptions.Cache();
        var artifacts = CommonOptions.Artifacts();
        var shardIndex = new Option<int?>("--shard-index") { Description = "Records spread over machines: this worker's number, from 0" };
        var shardCount = new Option<int?>("--shard-count") { Description = "Records spread over machines: how many workers" };
        var command = new Command("run", "Build a stage and the stages it depends on") { stage, dataset, root, force, only, cache, artifacts, shardIndex, shardCount };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
            };
            var part = Pipeline.Core.Records.RecordsPart.From(parse.GetValue(shardIndex), parse.GetValue(shardCount));
            // Under MSBuild, the engine's warnings become MSBuild warnings, as its errors become MSBuild errors.
            Action<string> log = MSBuildError.Requested ? line => Console.WriteLine(MSBuildError.Warning(line)) : Console.WriteLine;
            var repositoryRoot = CommonOptions.FindRoot(parse.GetValue(root));
            var artifactsRoot = CommonOptions.ArtifactsRoot(parse, artifacts);
            var pipeline = Chain.Open(repositoryRoot, parse.GetValue(dataset)!, log, artifactsRoot, parse.GetValue(cache), part);
            var target = pipeline.Stage(parse.GetValue(stage)!).Name;
            if (part is not null && target != "records")
            {
                throw new PipelineException($"--shard-index and --shard-count split the Records stage among workers; build {target} on the machine that combines them");
            }
            // With --only the caller (Cake) has already said why the stage runs; the check is repeated under the lock.
            var explained = parse.GetValue(only);
            var steps = explained ? [pipeline.Stage(target)] : pipeline.Chain(target);
            if (!explained && steps.Any(s => s.Name == "bottlenecks") && Upstream(pipeline) is { } upstream)
            {
                // The backbone is another dataset's export: that dataset is built first, as far as its export, like any dependency.
                Console.WriteLine($"{pipeline.Dataset.Name} transfers from {upstream}'s export; building {upstream} up to Export first");
                var other = Chain.Open(repositoryRoot, upstream, log, artifactsRoot, parse.GetValue(cache));
                Build(other, other.Chain("export"), "export", force: false, explained: false, cancel.Token);
            }
            Build(pipeline, steps, target, parse.GetValue(force), explained, cancel.Token);
            return 0;
        }));
        return command;
    }

    /// <summary>The dataset whose export this one transfers from (transfer.from "dataset:NAME"), if any.</summary>
    internal static string? Upstream(DatasetPipeline pipeline) =>
        pipeline.Dataset.Transfer is { } transfer ? Pipeline.Core.Datasets.TransferBackbones.Dataset(transfer.From) : null;

    private static void Build(DatasetPipeline pipeline, IReadOnlyList<IStage> steps, string target, bool force, bool explained, CancellationToken cancellation)
    {
        using var held = pipeline.Lock(Console.WriteLine);
        foreach (var step in steps)
        {
            var forced = force && step.Name == target;
            var outcome = pipeline.Run(step.Name, forced, cancellation, status =>
            {
                if (!explained)
                {
                    Console.WriteLine(DatasetPipeline.Describe(status));
                }
            });
            Console.WriteLine(outcome.Ran
                ? $"{DatasetPipeline.Title(step.Name)}: {(outcome.Restored ? "restored from the run-cache" : "built")} in {outcome.Elapsed.TotalSeconds:F1} s{(outcome.OutputsChanged ? "" : " (outputs identical to the previous build)")}"
                : DatasetPipeline.Describe(outcome.StatusBefore));
        }
    }
}
