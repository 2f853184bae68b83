using System.Globalization;
using System.Text.RegularExpressions;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Experiments;

/// <summary>
/// The recorded runs of a dataset as people ask about them: one row per distinct run (the newest record of each id),
/// which of them the artifacts hold now, and a run found by id, by "current", or by the git revision it was built at.
/// </summary>
public sealed partial class ExperimentRuns
{
    private readonly IReadOnlyList<ExperimentRecord> _records;
    private readonly IReadOnlyDictionary<string, string> _current;

    /// <param name="records">The log's records, oldest first.</param>
    /// <param name="current">The lock file's fingerprint of each stage, as the artifacts hold them now.</param>
    public ExperimentRuns(IReadOnlyList<ExperimentRecord> records, IReadOnlyDictionary<string, string> current)
    {
        _records = records;
        _current = current;
        Runs = [.. records.GroupBy(r => r.Id, StringComparer.Ordinal).Select(g => g.Last()).OrderBy(r => r.Time)];
        Current = Runs.LastOrDefault(r => r.Stages.Count > 0 && r.Stages.All(s => current.TryGetValue(s.Stage, out var f) && f == s.Fingerprint));
    }

    /// <summary>Each distinct run once (its newest record), oldest first.</summary>
    public IReadOnlyList<ExperimentRecord> Runs { get; }

    /// <summary>The run the dataset's artifacts hold now; null when none recorded matches them.</summary>
    public ExperimentRecord? Current { get; }

    /// <summary>The lock file's fingerprint of a stage, as the artifacts hold it now; null when the stage was never built.</summary>
    public string? CurrentFingerprint(string stage) => _current.GetValueOrDefault(stage);

    /// <summary>How many times a run was recorded (built, or restored from the run-cache).</summary>
    public int TimesRecorded(string id) => _records.Count(r => r.Id == id);

    /// <summary>
    /// Minutes the run's training took to compute. A run that restored its model from the run-cache took that of
    /// the run that trained it, found by the Train stage's fingerprint; null when no record computed it.
    /// </summary>
    public double? TrainMinutes(ExperimentRecord run)
    {
        var fingerprint = run.Fingerprint("train");
        return fingerprint is null ? null
            : _records.Where(r => r.Fingerprint("train") == fingerprint).Select(r => r.ComputeSeconds("train")).FirstOrDefault(s => s is not null) / 60;
    }

    /// <summary>
    /// A run by reference: an id or a prefix of one (at least 4 hex digits), "current", "previous" (the run before
    /// the current one), or a git revision, which names the newest run recorded at that commit with a clean checkout
    /// and no overrides.
    /// </summary>
    /// <param name="resolveRevision">Turns a revision into a full commit hash; null when it is not one.</param>
    /// <exception cref="PipelineException">Nothing recorded matches, or an id prefix matches several runs.</exception>
    public ExperimentRecord Find(string reference, Func<string, string?> resolveRevision)
    {
        switch (reference)
        {
            case "current":
                return Current ?? throw new PipelineException("no recorded run matches what the artifacts hold now; build the dataset (a build records itself) and ask again");
            case "previous":
                var current = Find("current", resolveRevision);
                return Runs.LastOrDefault(r => r.Time < current.Time && r.Id != current.Id)
                    ?? throw new PipelineException($"run {current.Id} is the only run recorded; build a variation (pipeline exp run -S …) to have two to compare");
        }
        if (HexPrefix().IsMatch(reference))
        {
            var matches = Runs.Where(r => r.Id.StartsWith(reference, StringComparison.OrdinalIgnoreCase)).ToList();
            if (matches.Count > 1)
            {
                throw new PipelineException($"\"{reference}\" begins the ids of {matches.Count} runs ({string.Join(", ", matches.Select(r => r.Id))}); give more of it");
            }
            if (matches.Count == 1)
            {
                return matches[0];
            }
        }
        if (resolveRevision(reference) is { } commit)
        {
            return _records.LastOrDefault(r => r.Git is { Dirty: false } git && git.Commit == commit && r.Overrides.Count == 0)
                ?? throw new PipelineException(
                    $"no run was recorded at {reference} ({commit[..7]}) from a clean checkout without overrides; build it there (git switch --detach {reference} && ./build.sh) to record one");
        }
        throw new PipelineException($"\"{reference}\" is neither a run id ({string.Join(", ", Runs.TakeLast(5).Select(r => r.Id))}{(Runs.Count > 5 ? ", …" : "")}), \"current\", \"previous\" nor a git revision");
    }

    /// <summary>The field paths whose values differ between the runs (a value a run lacks counts as different).</summary>
    public static IReadOnlyList<string> DifferingParameters(IReadOnlyList<ExperimentRecord> runs) =>
        [.. runs.SelectMany(r => r.Parameters.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .Where(key => runs.Select(r => r.Parameters.GetValueOrDefault(key)).Distinct(StringComparer.Ordinal).Skip(1).Any())];

    /// <summary>A parameter's value as people read it: strings without quotes.</summary>
    public static string Show(string? json) => json is null ? "—" : json.Length >= 2 && json[0] == '"' ? json[1..^1] : json;

    /// <summary>A figure with four decimals, or "—".</summary>
    public static string Show(double? value) => value is { } v ? v.ToString("0.0000", CultureInfo.InvariantCulture) : "—";

    [GeneratedRegex("^[0-9a-fA-F]{4,8}$")]
    private static partial Regex HexPrefix();
}
