using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Experiments;

/// <summary>
/// artifacts/.experiments/&lt;dataset&gt;.jsonl: every recorded build of a dataset, one JSON object per line, appended
/// and never rewritten. Outside artifacts/&lt;dataset&gt;/ so that --target=Clean keeps the history.
/// </summary>
public sealed class ExperimentLog
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public ExperimentLog(string path) => Path = path;

    /// <summary>The log of a dataset under an artifacts root.</summary>
    public static ExperimentLog Of(string artifactsRoot, string dataset) =>
        new(System.IO.Path.Combine(artifactsRoot, ".experiments", dataset + ".jsonl"));

    public string Path { get; }

    /// <summary>Every record, oldest first. A line that is not a record (a write cut short by a crash) is skipped and reported.</summary>
    public IReadOnlyList<ExperimentRecord> Read(Action<string>? warn = null)
    {
        if (!File.Exists(Path))
        {
            return [];
        }
        var records = new List<ExperimentRecord>();
        var number = 0;
        foreach (var line in File.ReadLines(Path))
        {
            number++;
            if (line.Length == 0)
            {
                continue;
            }
            try
            {
                records.Add(JsonSerializer.Deserialize<ExperimentRecord>(line, Json) ?? throw new JsonException("null"));
            }
            catch (JsonException e)
            {
                warn?.Invoke($"warning: {DisplayPath.FromCurrentDirectory(Path)}:{number}: not a run record ({JsonErrors.WithoutPosition(e.Message)}); it is skipped");
            }
        }
        return records;
    }

    /// <summary>Adds a record as one line (called under the dataset's artifacts lock, so appends never interleave).</summary>
    public void Append(ExperimentRecord record)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var line = JsonSerializer.Serialize(record, Json) + "\n";
        using var file = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        // A record cut short by a crash must not glue itself to the next one: start on a fresh line if the last one is unfinished.
        if (file.Length > 0)
        {
            file.Seek(-1, SeekOrigin.End);
            if (file.ReadByte() != '\n')
            {
                file.Write("\n"u8);
            }
        }
        file.Seek(0, SeekOrigin.End);
        file.Write(Encoding.UTF8.GetBytes(line));
        file.Flush(flushToDisk: true);
    }

    /// <summary>Stages' parameters as one record keeps them: flattened to field paths, merged (a key two stages read is the same value).</summary>
    public static SortedDictionary<string, string> Parameters(IEnumerable<JsonObject> stageParameters)
    {
        var parameters = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in stageParameters.SelectMany(p => CanonicalJson.Flatten(p, "")))
        {
            parameters[key] = value;
        }
        return parameters;
    }

    /// <summary>
    /// What the dataset's artifacts hold now, as a record: the lock file's entries for the chain up to
    /// <paramref name="target"/>, the stage times, the reporting stages' metrics, the overrides and the commit.
    /// </summary>
    public static ExperimentRecord Capture(DatasetPipeline pipeline, string target, string repositoryRoot)
    {
        var lockFile = LockFile.Load(pipeline.Engine.LockPath);
        var times = StageTimes.Read(pipeline.ArtifactsDirectory);
        var stages = new List<ExperimentStage>();
        var entries = new List<LockEntry>();
        var metrics = new JsonObject();
        foreach (var stage in pipeline.Chain(target))
        {
            if (lockFile.Find(stage.Name) is not { } entry)
            {
                continue;
            }
            var time = times.GetValueOrDefault(stage.Name) is { } t && t.Fingerprint == entry.Fingerprint ? t : null;
            stages.Add(new ExperimentStage(stage.Name, entry.Fingerprint, time is null ? null : Math.Round(time.Seconds, 1), time?.Restored ?? false));
            entries.Add(entry);
            if (stage is IReportsMetrics reports && reports.Metrics() is { } figures)
            {
                foreach (var (key, value) in figures)
                {
                    metrics[key] = value?.DeepClone();
                }
            }
        }
        return new ExperimentRecord(
            ExperimentRecord.IdOf(pipeline.Dataset.Name, stages.Select(s => (s.Stage, s.Fingerprint))),
            DateTimeOffset.UtcNow,
            pipeline.Dataset.Name,
            pipeline.Stage(target).Name,
            GitState.Read(repositoryRoot),
            [.. pipeline.Dataset.Overrides.Select(o => o.ToString())],
            Parameters(entries.Select(e => e.Parameters)),
            stages,
            metrics);
    }
}
