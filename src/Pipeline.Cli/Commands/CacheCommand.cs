using System.CommandLine;
using Pipeline.Core.Engine;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline cache size|gc`: what the run-cache holds, and removing what is no longer used.</summary>
internal static class CacheCommand
{
    public static Command Create()
    {
        var root = CommonOptions.Root();
        var cache = CommonOptions.Cache();
        var size = new Command("size", "Entries per stage, objects and bytes in the run-cache") { root, cache };
        size.SetAction(parse => CommonOptions.Guard(() =>
        {
            var runCache = Open(parse.GetValue(root), parse.GetValue(cache));
            Console.WriteLine($"{Pipeline.Core.Engine.DisplayPath.FromCurrentDirectory(runCache.Directory)}: {runCache.Size()}");
            return 0;
        }));

        var gcRoot = CommonOptions.Root();
        var gcCache = CommonOptions.Cache();
        var keepDays = new Option<double>("--keep-days") { Description = "Keep entries used (stored or restored) within this many days", Required = true };
        var gc = new Command("gc", "Remove entries not used for --keep-days days and every object no remaining entry needs") { gcRoot, gcCache, keepDays };
        gc.SetAction(parse => CommonOptions.Guard(() =>
        {
            var days = parse.GetValue(keepDays);
            if (days < 0)
            {
                throw new PipelineException($"--keep-days is {days}; give 0 or more");
            }
            var runCache = Open(parse.GetValue(gcRoot), parse.GetValue(gcCache));
            var (entries, objects, bytes) = runCache.Collect(TimeSpan.FromDays(days));
            Console.WriteLine($"removed {entries} entries and {objects} objects ({bytes / 1048576.0:0.0} MB); left: {runCache.Size()}");
            return 0;
        }));
        return new Command("cache", "The run-cache: stage outputs stored by fingerprint") { size, gc };
    }

    private static RunCache Open(string? root, string? given) =>
        RunCache.Resolve(given, Path.Combine(CommonOptions.FindRoot(root), "artifacts", ".cache"))
        ?? throw new PipelineException($"the run-cache is turned off ({RunCache.EnvironmentVariable}=off)");
}
