using System.CommandLine;
using Pipeline.Core.Build;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline run STAGE`: builds the stage and whatever it needs, skipping what is fresh.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var stage = new Argument<string>("stage") { Description = "Stage to build: labels or records" };
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var force = new Option<bool>("--force") { Description = "Re-run the named stage even if it is fresh" };
        var command = new Command("run", "Build a stage and the stages it depends on") { stage, dataset, root, force };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
            };
            var pipeline = DatasetPipeline.Open(CommonOptions.FindRoot(parse.GetValue(root)), parse.GetValue(dataset)!, Console.WriteLine);
            var target = pipeline.Stage(parse.GetValue(stage)!).Name;
            using var held = pipeline.Lock(Console.WriteLine);
            foreach (var step in pipeline.Chain(target))
            {
                var forced = parse.GetValue(force) && step.Name == target;
                if (pipeline.NeedsRun(step.Name, forced, Console.WriteLine))
                {
                    var outcome = pipeline.Run(step.Name, forced, cancel.Token);
                    Console.WriteLine($"{DatasetPipeline.Title(step.Name)}: built in {outcome.Elapsed.TotalSeconds:F1} s{(outcome.OutputsChanged ? "" : " (outputs identical to the previous build)")}");
                }
            }
            return 0;
        }));
        return command;
    }
}
