using System.CommandLine;
using Pipeline.Cli.Composition;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline cache size|gc|push|pull`: what the run-cache holds, removing what is no longer used, and sharing a build through a remote cache.</summary>
internal static class CacheCommand
{
    public static Command Create() => new("cache", "The run-cache: stage outputs stored by fingerprint, in a folder and optionally a remote cache")
    {
        Size(), Collect(), Push(), Pull(),
    };

    private static Command Size()
    {
        var root = CommonOptions.Root();
        var cache = CommonOptions.Cache();
        var size = new Command("size", "Entries per stage, objects and bytes in the run-cache folder") { root, cache };
        size.SetAction(parse => CommonOptions.Guard(() =>
        {
            var runCache = Open(parse.GetValue(root), parse.GetValue(cache));
            Console.WriteLine($"{DisplayPath.FromCurrentDirectory(runCache.Directory)}: {runCache.Size()}");
            if (runCache.Remote is { } remote)
            {
                // The protocol has no listing: the server knows its size (bazel-remote's /status, a folder's du).
                Console.WriteLine($"{remote.Display}: a remote cache; its size is the server's to tell (the HTTP cache protocol lists nothing)");
            }
            return 0;
        }));
        return size;
    }

    private static Command Collect()
    {
        var root = CommonOptions.Root();
        var cache = CommonOptions.Cache();
        var keepDays = new Option<double>("--keep-days") { Description = "Keep entries used (stored or restored) within this many days", Required = true };
        var gc = new Command("gc", "Remove entries of the run-cache folder not used for --keep-days days and every object no remaining entry needs") { root, cache, keepDays };
        gc.SetAction(parse => CommonOptions.Guard(() =>
        {
            var days = parse.GetValue(keepDays);
            if (days < 0)
            {
                throw new PipelineException($"--keep-days is {days}; give 0 or more");
            }
            var runCache = Open(parse.GetValue(root), parse.GetValue(cache));
            var (entries, objects, bytes) = runCache.Collect(TimeSpan.FromDays(days));
            Console.WriteLine($"removed {entries} entries and {objects} objects ({bytes / 1048576.0:0.0} MB); left: {runCache.Size()}");
            if (runCache.Remote is { } remote)
            {
                Console.WriteLine($"{remote.Display} is untouched: a remote cache evicts by its own rules (bazel-remote by size; for nginx, delete old files on the server)");
            }
            return 0;
        }));
        return gc;
    }

    private static Command Push()
    {
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var cache = CommonOptions.Cache();
        var artifacts = CommonOptions.Artifacts();
        var push = new Command("push", "Upload the dataset's current build (every fresh stage's run) to the remote cache") { dataset, root, cache, artifacts };
        push.SetAction(parse => CommonOptions.Guard(() =>
        {
            var pipeline = Chain.Open(CommonOptions.FindRoot(parse.GetValue(root)), parse.GetValue(dataset)!, Console.WriteLine,
                CommonOptions.ArtifactsRoot(parse, artifacts), parse.GetValue(cache));
            var runCache = RemoteOf(pipeline);
            var lockFile = LockFile.Load(pipeline.Engine.LockPath);
            using var held = pipeline.Lock(Console.WriteLine);
            var (pushed, failed) = (0, 0);
            foreach (var stage in pipeline.Stages)
            {
                var status = pipeline.Engine.Check(stage);
                if (!status.IsFresh || lockFile.Find(stage.Name) is not { } entry || !stage.Declare().Cacheable)
                {
                    Console.WriteLine($"{DatasetPipeline.Title(stage.Name)}: not pushed ({(status.IsFresh ? "its outputs depend on more than its inputs; it is never cached" : $"stale: {status.Summary}")})");
                    continue;
                }
                // A stage restored or built before the cache existed may be missing from the folder: store it from the artifacts.
                runCache.Store(stage.Name, entry.Fingerprint, entry.Outputs, pipeline.ArtifactsDirectory);
                if (runCache.Upload(stage.Name, entry.Fingerprint, Console.WriteLine) is { } sent)
                {
                    Console.WriteLine($"{DatasetPipeline.Title(stage.Name)}: pushed, {sent.Blobs} blob{(sent.Blobs == 1 ? "" : "s")} ({sent.Bytes / 1048576.0:0.0} MB) sent, {sent.Skipped} already there");
                    pushed++;
                }
                else
                {
                    failed++;
                    break;
                }
            }
            if (failed > 0)
            {
                throw new PipelineException($"the push stopped: the remote cache {runCache.Remote!.Display} cannot be used (the warning above says why)");
            }
            Console.WriteLine($"pushed {pushed} stage{(pushed == 1 ? "" : "s")} of {pipeline.Dataset.Name} to {runCache.Remote!.Display}");
            return 0;
        }));
        return push;
    }

    private static Command Pull()
    {
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var cache = CommonOptions.Cache();
        var artifacts = CommonOptions.Artifacts();
        var target = new Option<string>("--target") { Description = "The last stage to bring (default: the whole chain)" };
        var pull = new Command("pull", "Bring the dataset's build from the run-cache (folder, then remote) without computing any stage: one it lacks stops the pull (Export, never cached, is written from the restored model)") { dataset, root, cache, artifacts, target };
        pull.SetAction(parse => CommonOptions.Guard(() =>
        {
            var pipeline = Chain.Open(CommonOptions.FindRoot(parse.GetValue(root)), parse.GetValue(dataset)!, Console.WriteLine,
                CommonOptions.ArtifactsRoot(parse, artifacts), parse.GetValue(cache));
            var last = parse.GetValue(target) is { } named ? pipeline.Stage(named).Name : pipeline.Stages[^1].Name;
            var outcomes = pipeline.Build(last, new BuildOptions { RestoreOnly = true, Upstream = false });
            Console.WriteLine($"{outcomes.Count(o => o.Restored)} stage{(outcomes.Count(o => o.Restored) == 1 ? "" : "s")} restored, {outcomes.Count(o => !o.Ran)} already fresh");
            return 0;
        }));
        return pull;
    }

    private static RunCache RemoteOf(DatasetPipeline pipeline) =>
        pipeline.Cache is { Remote: not null } cache ? cache
            : throw new PipelineException($"no remote cache to push to: give --cache=http://HOST:PORT/PREFIX or set {RunCache.EnvironmentVariable} to such a URL");

    private static RunCache Open(string? root, string? given) =>
        RunCache.Resolve(given, Path.Combine(CommonOptions.FindRoot(root), "artifacts", ".cache"))
        ?? throw new PipelineException($"the run-cache is turned off ({RunCache.EnvironmentVariable}=off)");
}
