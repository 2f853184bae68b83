using Pipeline.Cli.Composition;
using System.CommandLine;
using Pipeline.Core.Build;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline run STAGE`: builds the stage and whatever it needs, skipping what is fresh.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var stage = new Argument<string>("stage") { Description = "Stage to build: labels, records, train, evaluate, export or smokepredict" };
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var force = new Option<bool>("--force") { Description = "Re-run the named stage even if it is fresh" };
        var only = new Option<bool>("--only") { Description = "Build only the named stage, not the stages it depends on" };
        var cache = CommonOptions.Cache();
        var command = new Command("run", "Build a stage and the stages it depends on") { stage, dataset, root, force, only, cache };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
            };
            var pipeline = Chain.Open(CommonOptions.FindRoot(parse.GetValue(root)), parse.GetValue(dataset)!, Console.WriteLine, cache: parse.GetValue(cache));
            var target = pipeline.Stage(parse.GetValue(stage)!).Name;
            using var held = pipeline.Lock(Console.WriteLine);
            // With --only the caller (Cake) has already said why the stage runs; the check is repeated under the lock.
            var explained = parse.GetValue(only);
            var steps = explained ? [pipeline.Stage(target)] : pipeline.Chain(target);
            foreach (var step in steps)
            {
                var forced = parse.GetValue(force) && step.Name == target;
                var outcome = pipeline.Run(step.Name, forced, cancel.Token, status =>
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
            return 0;
        }));
        return command;
    }
}
