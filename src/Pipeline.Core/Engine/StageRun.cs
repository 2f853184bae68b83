using System.Collections.Concurrent;

namespace Pipeline.Core.Engine;

/// <summary>What a running stage gets: where to write, how to report, and whether to stop.</summary>
public sealed class StageRun
{
    public StageRun(string outputRoot, Action<string> log, CancellationToken cancellation, string resumeKey = "", bool forced = false,
        IReadOnlyDictionary<string, string>? previousOutputs = null)
    {
        PreviousOutputs = previousOutputs ?? new Dictionary<string, string>();
        OutputRoot = outputRoot;
        Log = log;
        Cancellation = cancellation;
        ResumeKey = resumeKey;
        Forced = forced;
    }

    /// <summary>
    /// The person asked for this run (--force) although the stage may be fresh: a stage with saved state (Train's
    /// checkpoints) computes from scratch rather than resume, which would only hand back what it has.
    /// </summary>
    public bool Forced { get; }

    /// <summary>
    /// The output hashes pipeline.lock.json recorded for this stage's last build, by '/'-separated path relative to the
    /// artifacts folder (empty when it has none): a stage that carries earlier outputs forward (Export's versions)
    /// checks them against these, so a file damaged since is never recorded again as good.
    /// </summary>
    public IReadOnlyDictionary<string, string> PreviousOutputs { get; }

    /// <summary>
    /// The fingerprint without the extendable and partitioning parameters: saved state (checkpoints) made under the
    /// same key can be continued from, and workers' shares made under it combined; state under another key belongs
    /// to a different computation and must not be.
    /// </summary>
    public string ResumeKey { get; }

    /// <summary>A fresh temporary folder; declared outputs written here are moved into place on success.</summary>
    public string OutputRoot { get; }

    public Action<string> Log { get; }

    public CancellationToken Cancellation { get; }

    public string PathOf(string output) => Path.Combine(OutputRoot, output);

    /// <summary>
    /// Creates an output file (path relative to <see cref="OutputRoot"/>) whose content is hashed as it is written,
    /// so the engine does not read large outputs back to record them.
    /// </summary>
    public Stream CreateOutput(string relativePath)
    {
        var path = PathOf(relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var key = relativePath.Replace('\\', '/');
        return new HashingFileStream(path, (hash, length) => WrittenHashes[key] = (hash, length));
    }

    /// <summary>Hashes of files made through <see cref="CreateOutput"/>, by '/'-separated relative path.</summary>
    internal ConcurrentDictionary<string, (string Hash, long Length)> WrittenHashes { get; } = new(StringComparer.Ordinal);
}
