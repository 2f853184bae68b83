using System.CommandLine;
using Pipeline.Cli.Composition;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Records;
using Pipeline.Training.Train;

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
        var set = CommonOptions.Set();
        var command = new Command("run", "Build a stage and the stages it depends on") { stage, dataset, root, force, only, cache, artifacts, shardIndex, shardCount, set };
        command.SetAction(parse =>
        {
            var exitCode = 1;
            try
            {
                exitCode = CommonOptions.Guard(() => Run(parse));
                return exitCode;
            }
            catch (Exception e) when (LaunchedJob.Joined)
            {
                // PIPELINE_TRACE lets errors through; MPI_Abort below would end the process before the runtime printed this.
                Console.Error.WriteLine(e);
                throw;
            }
            finally
            {
                // A rank 0 of a launched job (train.distributed.launcher "none") releases the other ranks, or on failure ends them.
                LaunchedJob.Release(failed: exitCode != 0);
            }
        });
        return command;

        int Run(ParseResult parse)
        {
            // Started as a rank of an MPI job: rank 0 builds, the others only follow its Train stage.
            if (LaunchedJob.Launched && LaunchedJob.Join(Console.WriteLine) is { } followerExit)
            {
                return followerExit;
            }
            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
            };
            var part = RecordsShare.From(parse.GetValue(shardIndex), parse.GetValue(shardCount));
            // Under MSBuild, the engine's warnings become MSBuild warnings, as its errors become MSBuild errors.
            Action<string> log = MSBuildError.Requested ? line => Console.WriteLine(MSBuildError.Warning(line)) : Console.WriteLine;
            var repositoryRoot = CommonOptions.FindRoot(parse.GetValue(root));
            var artifactsRoot = CommonOptions.ArtifactsRoot(parse, artifacts);
            var pipeline = Chain.Open(repositoryRoot, parse.GetValue(dataset)!, log, artifactsRoot, parse.GetValue(cache), part, CommonOptions.Overrides(parse, set));
            var target = pipeline.Stage(parse.GetValue(stage)!).Name;
            RecordsShare.RequireRecordsTarget(part, target);
            // With --only the caller (Cake) has already said why the stage runs; the check is repeated under the lock.
            var outcomes = pipeline.Build(target, new BuildOptions { Force = parse.GetValue(force), Only = parse.GetValue(only), Cancellation = cancel.Token });
            if (!parse.GetValue(only) && part is null)
            {
                ReportCommand.AfterBuild(pipeline, target, outcomes);
            }
            return 0;
        }
    }
}
