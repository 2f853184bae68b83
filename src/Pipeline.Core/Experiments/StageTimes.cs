using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Experiments;

/// <summary>
/// artifacts/&lt;dataset&gt;/.stage-times.json: how long each stage's current outputs took to make, and whether they
/// were computed or restored from the run-cache. Kept beside the lock file, not in it: a duration depends on the
/// machine's load, and the lock file holds only what the computation determines.
/// </summary>
public static class StageTimes
{
    public const string FileName = ".stage-times.json";

    /// <summary>How a stage's outputs came to be.</summary>
    public sealed record Entry(string Fingerprint, double Seconds, bool Restored);

    public static IReadOnlyDictionary<string, Entry> Read(string artifactsDirectory)
    {
        var path = Path.Combine(artifactsDirectory, FileName);
        try
        {
            return File.Exists(path)
                ? JsonSerializer.Deserialize<Dictionary<string, Entry>>(File.ReadAllText(path), ExperimentLog.Json) ?? []
                : new Dictionary<string, Entry>();
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            // Only figures for people: a damaged file loses them, never the build.
            return new Dictionary<string, Entry>();
        }
    }

    /// <summary>Records that the stage's outputs with this fingerprint took this long (called under the artifacts lock).</summary>
    public static void Write(string artifactsDirectory, string stage, Entry entry)
    {
        var times = new SortedDictionary<string, Entry>(Read(artifactsDirectory).ToDictionary(), StringComparer.Ordinal) { [stage] = entry };
        AtomicFile.WriteAllText(Path.Combine(artifactsDirectory, FileName), JsonSerializer.Serialize(times, ExperimentLog.Json) + "\n");
    }

    internal static JsonObject ToJson(Entry entry) => new() { ["seconds"] = Math.Round(entry.Seconds, 1), ["restored"] = entry.Restored };
}
