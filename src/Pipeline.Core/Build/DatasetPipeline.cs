using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Experiments;
using Pipeline.Core.Labels;
using Pipeline.Core.Records;

namespace Pipeline.Core.Build;

/// <summary>One dataset's chain of stages over one engine: what Cake, the CLI and tests drive.</summary>
public sealed class DatasetPipeline
{
    private readonly Dictionary<string, StageStatus> _firstLook = new(StringComparer.Ordinal);

    private readonly Action<string> _log;
    private readonly Func<string, DatasetPipeline> _openOther;
    private DatasetPipeline? _upstream;

    private DatasetPipeline(string repositoryRoot, DatasetDefinition dataset, string artifacts, StageEngine engine, RunCache? cache, IReadOnlyList<IStage> stages,
        Action<string> log, Func<string, DatasetPipeline> openOther)
    {
        RepositoryRoot = repositoryRoot;
        Cache = cache;
        Dataset = dataset;
        ArtifactsDirectory = artifacts;
        Engine = engine;
        Stages = stages;
        _log = log;
        _openOther = openOther;
    }

    /// <summary>The stages every chain starts with, which this assembly builds; later ones come from <c>laterStages</c>.</summary>
    public static readonly IReadOnlyList<string> FirstStages = ["labels", "records"];

    public DatasetDefinition Dataset { get; }

    /// <summary>The checkout the dataset is built in: datasets/ and, by default, artifacts/ are under it.</summary>
    public string RepositoryRoot { get; }

    /// <summary>Every recorded build of this dataset (artifacts/.experiments/&lt;dataset&gt;.jsonl).</summary>
    public ExperimentLog Experiments => ExperimentLog.Of(Path.GetDirectoryName(ArtifactsDirectory)!, Dataset.Name);

    /// <summary>The recorded runs, with the one the artifacts hold now (by the lock file's fingerprints).</summary>
    /// <param name="warn">Told of a log line that is not a record.</param>
    public ExperimentRuns Runs(Action<string>? warn = null) =>
        new(Experiments.Read(warn), LockFile.Load(Engine.LockPath).Stages.ToDictionary(p => p.Key, p => p.Value.Fingerprint, StringComparer.Ordinal));

    /// <summary>artifacts/&lt;dataset name&gt;.</summary>
    public string ArtifactsDirectory { get; }

    public StageEngine Engine { get; }

    /// <summary>The run-cache the engine stores runs in and restores them from (with its remote, if any); null when off.</summary>
    public RunCache? Cache { get; }

    /// <summary>The implemented stages in build order.</summary>
    public IReadOnlyList<IStage> Stages { get; }

    /// <param name="repositoryRoot">Holds datasets/ and artifacts/; paths under it are shown relative to it.</param>
    /// <param name="dataset">A dataset name (datasets/NAME) or a path to a dataset folder or dataset.json.</param>
    /// <param name="laterStages">Stages after Records, from assemblies Core does not reference (Training, Serving).</param>
    /// <param name="cache">The run-cache folder (--cache); null means $PIPELINE_CACHE, else artifacts/.cache; "off" turns it off.</param>
    /// <param name="part">This worker's share of the Records stage when it is spread over machines.</param>
    /// <param name="overrides">Parameters set over dataset.json's (--set); the dataset it transfers from is opened without them.</param>
    public static DatasetPipeline Open(string repositoryRoot, string dataset, Action<string> log, string? artifactsRoot = null,
        IEnumerable<StageFactory>? laterStages = null, string? cache = null, RecordsShare? part = null, IReadOnlyList<DatasetOverride>? overrides = null)
    {
        var definition = DatasetLoader.Load(DatasetLoader.Locate(dataset, repositoryRoot), overrides);
        var artifacts = Path.GetFullPath(Path.Combine(artifactsRoot ?? Path.Combine(repositoryRoot, "artifacts"), definition.Name));
        Directory.CreateDirectory(artifacts);
        var hashes = FileHashCache.Open(Path.Combine(artifacts, ".file-hashes.json"));
        var runCache = RunCache.Resolve(cache, Path.Combine(artifactsRoot ?? Path.Combine(repositoryRoot, "artifacts"), ".cache"));
        var engine = new StageEngine(artifacts, repositoryRoot, hashes, log, runCache);
        var downloads = new DownloadCache(Path.Combine(artifactsRoot ?? Path.Combine(repositoryRoot, "artifacts"), ".downloads"));
        var source = DatasetSources.Create(definition, downloads);
        var context = new StageContext(definition, source, artifacts, log, downloads);
        IStage[] stages =
        [
            new LabelsStage(definition, source),
            new RecordsStage(definition, source, artifacts, downloads.Fetch, part),
            .. (laterStages ?? []).Select(create => create(context)).OfType<IStage>(),
        ];
        return new DatasetPipeline(repositoryRoot, definition, artifacts, engine, runCache, stages, log,
            other => Open(repositoryRoot, other, log, artifactsRoot, laterStages, cache));
    }

    /// <summary>The dataset whose export this one transfers from (transfer.from "dataset:NAME"), opened as this one was; null if none.</summary>
    public DatasetPipeline? Upstream =>
        _upstream ??= Dataset.Transfer?.Backbone is BackboneSource.DatasetExport export ? _openOther(export.Dataset) : null;

    /// <summary>Whether every stage up to and including <paramref name="target"/> is fresh.</summary>
    public bool IsBuilt(string target) => Chain(target).All(stage => Engine.Check(stage).IsFresh);

    /// <summary>
    /// Builds <paramref name="target"/>: the dataset it transfers from first (up to its export) when the chain computes
    /// bottlenecks from it, then each stage up to the target, skipping what is fresh, under the artifacts lock. Says
    /// for each stage whether it runs and why, and what it did. The one way a chain is built: the pipeline command
    /// (which Cake and MSBuild run), the benchmarks and the tests all come here.
    /// </summary>
    /// <returns>What each stage did, in build order.</returns>
    /// <exception cref="PipelineException">A stage failed, or datasets transfer from each other in a cycle.</exception>
    public IReadOnlyList<StageOutcome> Build(string target, BuildOptions options) => Build(target, options, []);

    /// <param name="downstream">The datasets whose builds led here, each waiting for the next one's export.</param>
    private IReadOnlyList<StageOutcome> Build(string target, BuildOptions options, IReadOnlyList<string> downstream)
    {
        var name = Stage(target).Name;
        var steps = options.Only ? [Stage(name)] : Chain(name);
        if (options.Upstream && !options.Only && steps.Any(s => s.Name == "bottlenecks") && Upstream is { } upstream)
        {
            string[] path = [.. downstream, Dataset.Name];
            if (path.Contains(upstream.Dataset.Name, StringComparer.Ordinal))
            {
                throw new PipelineException(
                    $"transfer.from forms a cycle: {string.Join(" → ", path.SkipWhile(d => d != upstream.Dataset.Name))} → {upstream.Dataset.Name}; each of them waits for the next one's export",
                    Dataset.DefinitionPath);
            }
            _log($"{Dataset.Name} transfers from {upstream.Dataset.Name}'s export; building {upstream.Dataset.Name} up to Export first");
            upstream.Build("export", options with { Force = false }, path);
        }
        var outcomes = new List<StageOutcome>();
        try
        {
            using var held = Lock(_log);
            foreach (var step in steps)
            {
                var outcome = Engine.Run(step, options.Force && step.Name == name, options.Cancellation, status =>
                {
                    if (!options.Only)
                    {
                        _log(Describe(status));
                    }
                }, options.RestoreOnly);
                _log(outcome.Ran
                    ? $"{Title(step.Name)}: {(outcome.Restored ? "restored from the run-cache" : "built")} in {outcome.Elapsed.TotalSeconds:F1} s{(outcome.OutputsChanged ? "" : " (outputs identical to the previous build)")}"
                    : Describe(outcome.StatusBefore));
                if (outcome.Ran)
                {
                    // The fingerprint the stage was found stale with is the one its lock entry now records.
                    Bookkeeping("the stage times", () => StageTimes.Write(ArtifactsDirectory, step.Name,
                        new StageTimes.Entry(outcome.StatusBefore.Fingerprint, outcome.Elapsed.TotalSeconds, outcome.Restored)));
                }
                outcomes.Add(outcome);
            }
            if (!options.Only && (options.Record || outcomes.Any(o => o.Ran)))
            {
                RecordUnderLock(name);
            }
        }
        finally
        {
            // Write-behind: what this build stored goes to the remote cache once it ends, failed or not (not when cancelled:
            // the runs stay in the local cache, and `pipeline cache push` uploads them).
            if (!options.Cancellation.IsCancellationRequested)
            {
                Cache?.Flush(_log);
            }
        }
        return outcomes;
    }

    /// <summary>
    /// Appends what the artifacts hold now, built up to <paramref name="target"/>, to the experiments log, when the chain
    /// reaches Train (a run without a model has nothing to compare). For a build driven stage by stage (Cake runs each
    /// with <see cref="BuildOptions.Only"/>), once at its end.
    /// </summary>
    /// <returns>The record, or null when the chain does not reach Train.</returns>
    public ExperimentRecord? Record(string target)
    {
        using var held = Lock(_log);
        return RecordUnderLock(Stage(target).Name);
    }

    private ExperimentRecord? RecordUnderLock(string target)
    {
        if (Chain(target).All(s => s.Name != "train"))
        {
            return null;
        }
        var record = ExperimentLog.Capture(this, target, RepositoryRoot);
        return Bookkeeping("the run's record", () => Experiments.Append(record)) ? record : null;
    }

    /// <summary>
    /// Writes a record for people (stage times, the experiments log) after the stages succeeded: a disk that refuses it
    /// is a warning, never a failed build, as with the run-cache.
    /// </summary>
    private bool Bookkeeping(string what, Action write)
    {
        try
        {
            write();
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log($"warning: {what} could not be written ({e.Message}); the build's outputs are not affected");
            return false;
        }
    }

    public IStage Stage(string name) =>
        Stages.FirstOrDefault(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new PipelineException($"no stage named \"{name}\"; stages: {string.Join(", ", Stages.Select(s => s.Name))}");

    /// <summary>Status of every stage, in build order.</summary>
    public IReadOnlyList<StageStatus> Status() => Stages.Select(s => WithPendingWork(s, Engine.Check(s))).ToList();

    /// <summary>Whether this dataset's chain has the stage (Bottlenecks only where the dataset transfers).</summary>
    public bool Has(string stage) => Stages.Any(s => s.Name.Equals(stage, StringComparison.OrdinalIgnoreCase));

    /// <summary>A stale stage's verdict with what is left to do, where the stage can say (see <see cref="IDescribesPendingWork"/>).</summary>
    private static StageStatus WithPendingWork(IStage stage, StageStatus status)
    {
        if (status.IsFresh || stage is not IDescribesPendingWork describes || describes.PendingWork() is not { } pending)
        {
            return status;
        }
        // Ahead of any long tail of reasons, which the one-line summary cuts.
        var reasons = status.Reasons.ToList();
        reasons.Insert(Math.Min(2, reasons.Count), pending);
        return status with { Reasons = reasons };
    }

    /// <summary>Stages up to and including <paramref name="target"/>, in build order.</summary>
    public IReadOnlyList<IStage> Chain(string target)
    {
        var stage = Stage(target);
        return Stages.Take(Stages.ToList().IndexOf(stage) + 1).ToList();
    }

    /// <summary>
    /// The reason Cake shows if the stage is skipped. Cake fixes a skip message when the task graph is built, before
    /// anything runs, so this is the engine's verdict at that moment; a stage stale then can only be fresh later
    /// because an upstream stage rebuilt to identical outputs.
    /// </summary>
    public string SkipReason(string stage)
    {
        var status = FirstLook(stage);
        return status.IsFresh ? status.Summary : "up to date: upstream rebuilt with identical outputs";
    }

    /// <summary>Checks the stage now, says in one line whether it runs and why, and returns whether it must run.</summary>
    public bool NeedsRun(string stage, bool force, Action<string> say)
    {
        var status = WithPendingWork(Stage(stage), Engine.Check(Stage(stage), force));
        say(Describe(status));
        return !status.IsFresh;
    }

    public StageOutcome Run(string stage, bool force, CancellationToken cancellation = default, Action<StageStatus>? starting = null) =>
        Engine.Run(Stage(stage), force, cancellation, starting);

    /// <summary>One line for a person: "Records: stale — records.shards.train 4 → 8".</summary>
    public static string Describe(StageStatus status) =>
        $"{Title(status.Stage)}: {(status.IsFresh ? "fresh" : "stale")} — {status.Summary}";

    public ArtifactsLock Lock(Action<string> log, TimeSpan? timeout = null) => ArtifactsLock.Acquire(ArtifactsDirectory, timeout, log);

    /// <summary>Removes every output and record of this dataset, waiting for any build using it; returns how many entries went.</summary>
    public int Clean(Action<string> log)
    {
        using var held = Lock(log);
        var removed = 0;
        foreach (var entry in Directory.EnumerateFileSystemEntries(ArtifactsDirectory))
        {
            if (ArtifactsLock.IsLockFile(entry))
            {
                continue;
            }
            if (Directory.Exists(entry))
            {
                Directory.Delete(entry, recursive: true);
            }
            else
            {
                File.Delete(entry);
            }
            removed++;
        }
        return removed;
    }

    /// <summary>The stage's name as build targets spell it: "records" → "Records", "smokepredict" → "SmokePredict".</summary>
    public static string Title(string stage) => stage == "smokepredict" ? "SmokePredict" : char.ToUpperInvariant(stage[0]) + stage[1..];

    private StageStatus FirstLook(string stage)
    {
        if (!_firstLook.TryGetValue(stage, out var status))
        {
            try
            {
                status = Engine.Check(Stage(stage));
            }
            catch (PipelineException e)
            {
                status = new StageStatus(stage, false, [e.Message], "");
            }
            _firstLook[stage] = status;
        }
        return status;
    }
}
