// The task graph and nothing else of substance: each stage task asks the engine (Pipeline.Core, built by
// build.sh into build/.bin) whether its stage is stale, and runs it through the same engine.
#r "./.bin/Pipeline.Core.dll"
#r "./.bin/pipeline.dll"

using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Records;
using Pipeline.Cli.Composition;

var target = Argument("target", "SmokePredict");
var dataset = Argument("dataset", "fashion-mnist");
var force = HasArgument("force") && Argument("force", "true") != "false";
// The run-cache folder (--cache=DIR); without it the engine uses $PIPELINE_CACHE, else artifacts/.cache.
var cache = HasArgument("cache") ? Argument<string>("cache") : null;
// Records spread over machines: this worker's share (--shard-index=I --shard-count=N).
var shardIndex = HasArgument("shard-index") ? Argument<int>("shard-index") : (int?)null;
var shardCount = HasArgument("shard-count") ? Argument<int>("shard-count") : (int?)null;
var part = RecordsPart.From(shardIndex, shardCount);
var root = MakeAbsolute(Directory("..")).FullPath;
// Work from the repository root, as the pipeline command does, so messages show paths relative to it.
Context.Environment.WorkingDirectory = root;

string[] stages = ["Labels", "Records", "Bottlenecks", "Train", "Evaluate", "Export", "SmokePredict"];
string[] others = ["Release", "Status", "Test", "Clean"];
if (!stages.Concat(others).Contains(target, StringComparer.OrdinalIgnoreCase))
{
    throw new Exception($"Unknown target \"{target}\"; targets: {string.Join(", ", stages.Concat(others))}");
}
target = stages.Concat(others).First(t => t.Equals(target, StringComparison.OrdinalIgnoreCase));
if (part is not null && target != "Records")
{
    throw new Exception($"--shard-index and --shard-count split the Records stage among workers: use them with --target=Records, not {target}");
}

DatasetPipeline pipeline = null;
DatasetPipeline Pipeline() => pipeline ??= Chain.Open(root, dataset, message => Information(message), cache: cache, part: part);
var cli = System.IO.Path.Combine(root, "build", ".bin", IsRunningOnWindows() ? "pipeline.exe" : "pipeline");

// A stage task: skipped with the engine's reason when fresh, otherwise run through the engine.
CakeTaskBuilder StageTask(string name, string dependsOn)
{
    var task = Task(name);
    if (dependsOn is not null)
    {
        task.IsDependentOn(dependsOn);
    }
    // Release builds the whole chain first.
    var lastStage = target == "Release" ? "SmokePredict" : target;
    if (!stages.Take(Array.IndexOf(stages, lastStage) + 1).Contains(name))
    {
        return task;
    }
    var stage = name.ToLowerInvariant();
    if (!Pipeline().Has(stage))
    {
        // Only a dataset with a "transfer" section computes bottlenecks; the others train from the records.
        task.WithCriteria(false, $"{Pipeline().Dataset.Name} does not transfer from a trained network (no \"transfer\" section)");
        return task;
    }
    var forced = force && name == target;
    task.WithCriteria(() => Pipeline().NeedsRun(stage, forced, message => Information(message)), Pipeline().SkipReason(stage))
        .Does(() =>
        {
            // The stage runs in the pipeline command's own process: it takes the artifacts lock, re-checks under it
            // (another build may have just built the stage), and keeps native libraries out of Cake's process.
            var arguments = new ProcessArgumentBuilder().Append("run").Append(stage).Append("--only")
                .Append("--dataset").AppendQuoted(dataset).Append("--root").AppendQuoted(root);
            if (forced)
            {
                arguments.Append("--force");
            }
            if (cache is not null)
            {
                arguments.Append("--cache").AppendQuoted(cache);
            }
            if (part is not null && stage == "records")
            {
                arguments.Append("--shard-index").Append(part.Index.ToString()).Append("--shard-count").Append(part.Count.ToString());
            }
            var exitCode = StartProcess(cli, new ProcessSettings { Arguments = arguments, WorkingDirectory = root });
            if (exitCode != 0)
            {
                throw new Exception($"{name} failed (pipeline exited with code {exitCode}); the message above says why");
            }
        });
    return task;
}

StageTask("Labels", null);
StageTask("Records", "Labels");
var bottlenecks = StageTask("Bottlenecks", "Records");
// A dataset that transfers from another dataset's export builds that dataset first, up to its export, like any dependency.
var upstream = Pipeline().Dataset.Transfer is { } transfer ? TransferBackbones.Dataset(transfer.From) : null;
if (upstream is not null && Array.IndexOf(stages, target == "Release" ? "SmokePredict" : target) >= Array.IndexOf(stages, "Bottlenecks"))
{
    // Checked here first, in this process, as the stage tasks are: a fresh upstream costs no process start.
    DatasetPipeline upstreamPipeline = null;
    bool UpstreamStale()
    {
        upstreamPipeline ??= Chain.Open(root, upstream, message => Information(message), cache: cache);
        return upstreamPipeline.Chain("export").Any(stage => !upstreamPipeline.Engine.Check(stage).IsFresh);
    }
    Task("Backbone").WithCriteria(() => UpstreamStale(), $"{upstream}, whose export {dataset} transfers from, is up to date").Does(() =>
    {
        Information($"{Pipeline().Dataset.Name} transfers from {upstream}'s export: building {upstream} up to Export");
        var arguments = new ProcessArgumentBuilder().Append("run").Append("export").Append("--dataset").AppendQuoted(upstream).Append("--root").AppendQuoted(root);
        if (cache is not null)
        {
            arguments.Append("--cache").AppendQuoted(cache);
        }
        var exitCode = StartProcess(cli, new ProcessSettings { Arguments = arguments, WorkingDirectory = root });
        if (exitCode != 0)
        {
            throw new Exception($"building {upstream}, whose export {Pipeline().Dataset.Name} transfers from, failed (pipeline exited with code {exitCode}); the message above says why");
        }
    });
    bottlenecks.IsDependentOn("Backbone");
}
StageTask("Train", "Bottlenecks");
StageTask("Evaluate", "Train");
StageTask("Export", "Evaluate");
StageTask("SmokePredict", "Export");

// Not a stage: the bundle holds the lock file, which a stage's own entry would change. Always rewritten (it is cheap).
Task("Release").IsDependentOn("SmokePredict").Does(() =>
{
    var exitCode = StartProcess(cli, new ProcessSettings
    {
        Arguments = new ProcessArgumentBuilder().Append("release").Append("--dataset").AppendQuoted(dataset).Append("--root").AppendQuoted(root),
        WorkingDirectory = root,
    });
    if (exitCode != 0)
    {
        throw new Exception($"Release failed (pipeline exited with code {exitCode}); the message above says why");
    }
});

Task("Status").Does(() => Console.Write(StatusTable.Render(Pipeline())));

// Build, check the style (.editorconfig), then test the build: a style slip fails in about a minute, before the tests.
// Whitespace and style only: the analyzers already ran in the build, where their warnings are errors.
Task("Test").Does(() =>
{
    var solution = System.IO.Path.Combine(root, "Pipeline.sln");
    DotNetBuild(solution);
    // dotnet format exits with 2 when files would change; any other failure is Cake's usual error.
    var unformatted = false;
    var format = new DotNetFormatSettings
    {
        VerifyNoChanges = true,
        NoRestore = true,
        WorkingDirectory = root,
        HandleExitCode = exitCode => unformatted = exitCode == 2,
    };
    DotNetFormatWhitespace(solution, format);
    if (!unformatted)
    {
        DotNetFormatStyle(solution, format);
    }
    if (unformatted)
    {
        throw new Exception("The code does not follow .editorconfig (the lines above say where): run `dotnet format Pipeline.sln` and commit what it changes");
    }
    DotNetTest(solution, new DotNetTestSettings { NoBuild = true });
});

Task("Clean").Does(() =>
{
    var removed = Pipeline().Clean(message => Warning(message));
    Information($"Removed {removed} entries from {Pipeline().ArtifactsDirectory}");
});

// Cake refuses to skip the task it was asked for, so stage targets run through this aggregate.
Task("Build").IsDependentOn(target);
RunTarget(stages.Contains(target) ? "Build" : target);
