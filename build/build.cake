// The task graph and nothing else of substance: one task per stage, made by a loop over the chain's stages. Each asks
// the engine (Pipeline.Core, built by build.sh into build/.bin) whether its stage is stale and, if so, runs it in the
// pipeline command's own process. What a test should cover lives in the engine, not here.
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
// Parameters over dataset.json's (--set=FIELD=VALUE, repeatable): passed to every pipeline command of the build.
var sets = HasArgument("set") ? Arguments<string>("set").ToList() : new List<string>();
var overrides = DatasetOverride.ForOneBuild(sets);
// Records spread over machines: this worker's share (--shard-index=I --shard-count=N).
var part = RecordsShare.From(HasArgument("shard-index") ? Argument<int>("shard-index") : null, HasArgument("shard-count") ? Argument<int>("shard-count") : null);
var root = MakeAbsolute(Directory("..")).FullPath;
// Work from the repository root, as the pipeline command does, so messages show paths relative to it.
Context.Environment.WorkingDirectory = root;

var stages = Chain.Targets;
string[] others = ["Release", "Report", "Status", "Test", "Clean"];
target = stages.Concat(others).FirstOrDefault(t => t.Equals(target, StringComparison.OrdinalIgnoreCase))
    ?? throw new Exception($"Unknown target \"{target}\"; targets: {string.Join(", ", stages.Concat(others))}");
RecordsShare.RequireRecordsTarget(part, target);
// Release builds the whole chain first; Report, the chain up to Evaluate.
var lastStage = target == "Release" ? stages[^1] : target == "Report" ? "Evaluate" : target;
var building = stages.Contains(lastStage) ? stages.Take(stages.ToList().IndexOf(lastStage) + 1).ToList() : [];

DatasetPipeline pipeline = null;
DatasetPipeline Pipeline() => pipeline ??= Chain.Open(root, dataset, message => Information(message), cache: cache, part: part, overrides: overrides);
// Whether a stage task ran: the build is then recorded in the experiments log, once, when it ends.
var ranStages = false;

// The one way this script starts work: the pipeline command on a dataset, from the repository root; a failure stops the build.
void RunPipeline(string what, string datasetArgument, params string[] arguments)
{
    var builder = new ProcessArgumentBuilder();
    foreach (var argument in arguments)
    {
        builder.Append(argument);
    }
    builder.Append("--dataset").AppendQuoted(datasetArgument).Append("--root").AppendQuoted(root);
    if (cache is not null && arguments[0] == "run")
    {
        builder.Append("--cache").AppendQuoted(cache);
    }
    if (datasetArgument == dataset && arguments[0] == "run")
    {
        foreach (var set in sets)
        {
            builder.Append("--set").AppendQuoted(set);
        }
    }
    var cli = System.IO.Path.Combine(root, "build", ".bin", IsRunningOnWindows() ? "pipeline.exe" : "pipeline");
    var exitCode = StartProcess(cli, new ProcessSettings { Arguments = builder, WorkingDirectory = root });
    if (exitCode != 0)
    {
        throw new Exception($"{what} failed (pipeline exited with code {exitCode}); the message above says why");
    }
}

var tasks = new Dictionary<string, CakeTaskBuilder>();
foreach (var name in stages)
{
    var task = tasks[name] = Task(name);
    if (tasks.Count > 1)
    {
        task.IsDependentOn(stages[tasks.Count - 2]);
    }
    var stage = name.ToLowerInvariant();
    if (!building.Contains(name))
    {
        continue;
    }
    if (!Pipeline().Has(stage))
    {
        // Only a dataset with a "transfer" section computes bottlenecks; the others train from the records.
        task.WithCriteria(false, $"{Pipeline().Dataset.Name} does not transfer from a trained network (no \"transfer\" section)");
        continue;
    }
    var forced = force && name == target;
    // The stage runs in the pipeline command's own process: it takes the artifacts lock, re-checks under it (another
    // build may have just built the stage), and keeps native libraries out of Cake's process.
    string[] arguments = ["run", stage, "--only", .. forced ? new[] { "--force" } : [],
        .. part is not null && stage == "records" ? new[] { "--shard-index", part.Index.ToString(), "--shard-count", part.Count.ToString() } : []];
    task.WithCriteria(() => Pipeline().NeedsRun(stage, forced, message => Information(message)), Pipeline().SkipReason(stage))
        .Does(() =>
        {
            ranStages = true;
            RunPipeline(name, dataset, arguments);
        });
}

// A dataset that transfers from another dataset's export builds that dataset first, up to its export, like any
// dependency; it is checked here, in this process, as the stage tasks are, so a fresh upstream costs no process.
if (building.Contains("Bottlenecks") && Pipeline().Upstream is { } upstream)
{
    var name = upstream.Dataset.Name;
    Task("Backbone")
        .WithCriteria(() => !upstream.IsBuilt("export"), $"{name}, whose export {Pipeline().Dataset.Name} transfers from, is up to date")
        .Does(() =>
        {
            Information($"{Pipeline().Dataset.Name} transfers from {name}'s export: building {name} up to Export");
            RunPipeline($"building {name}, whose export {Pipeline().Dataset.Name} transfers from,", name, "run", "export");
        });
    tasks["Bottlenecks"].IsDependentOn("Backbone");
}

// Not a stage: the bundle holds the lock file, which a stage's own entry would change. Always rewritten (it is cheap).
Task("Release").IsDependentOn(stages[^1]).Does(() => RunPipeline("Release", dataset, "release"));

// The report page (artifacts/<dataset>/report/index.html), after the chain up to Evaluate; a build that ran a stage writes it too.
Task("Report").IsDependentOn("Build").Does(() => RunPipeline("Report", dataset, "report"));

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

// Cake refuses to skip the task it was asked for, so stage targets run through this aggregate. A build that ran a
// stage and reached Train is recorded as a run (what `pipeline exp show` lists), as `pipeline run` records its own.
Task("Build").IsDependentOn(stages.Contains(lastStage) ? lastStage : target).Does(() =>
{
    if (ranStages && part is null && Pipeline().Record(lastStage) is { } run)
    {
        Information($"Recorded as run {run.Id} (build/.bin/pipeline exp show --dataset {Pipeline().Dataset.Name})");
        if (building.Contains("Evaluate") && target != "Report")
        {
            // The build itself succeeded: a report that cannot be written is a warning, not a failed build.
            try
            {
                RunPipeline("Report", dataset, "report");
            }
            catch (Exception e)
            {
                Warning($"The report was not written: {e.Message}");
            }
        }
    }
});
RunTarget(stages.Contains(target) ? "Build" : target);
