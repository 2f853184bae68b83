using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Pipeline.Core.Experiments;

/// <summary>
/// One build of a dataset, as the experiments log keeps it: what it was built from (the overrides, every stage's
/// parameters and fingerprint, the commit), how long it took, and what it measured.
/// </summary>
/// <param name="Id">
/// The first 8 hex digits of the SHA-256 of the dataset's name and each stage's fingerprint: two builds of the same
/// inputs, parameters and code have the same id, whenever and wherever they ran, and restore each other from the run-cache.
/// </param>
/// <param name="Parameters">Every stage's parameters, flattened to field paths ("train.learning_rate.base" → "0.002", as JSON text).</param>
/// <param name="Stages">Per stage in build order: its fingerprint, and the seconds its outputs took and whether they were restored.</param>
/// <param name="Metrics">Each reporting stage's figures, merged ("accuracy", "loss", "eval_accuracy", …).</param>
public sealed record ExperimentRecord(
    string Id,
    DateTimeOffset Time,
    string Dataset,
    string Target,
    GitState? Git,
    IReadOnlyList<string> Overrides,
    IReadOnlyDictionary<string, string> Parameters,
    IReadOnlyList<ExperimentStage> Stages,
    JsonObject Metrics)
{
    /// <summary>The id of a run of these stage fingerprints.</summary>
    public static string IdOf(string dataset, IEnumerable<(string Stage, string Fingerprint)> stages) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join("\n", stages.Select(s => $"{s.Stage}:{s.Fingerprint}").Prepend(dataset)))))[..8];

    /// <summary>A number among the metrics, or null.</summary>
    public double? Metric(string name) => Number(Metrics[name]);

    /// <summary>A JSON number as a double, however the node holds it (parsed text, an int, a double); null for anything else.</summary>
    public static double? Number(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.Number
            ? double.Parse(value.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture)
            : null;

    /// <summary>The seconds the named stage's outputs took to compute, or null when they were restored (or not built).</summary>
    public double? ComputeSeconds(string stage) => Stages.FirstOrDefault(s => s.Stage == stage) is { Restored: false, Seconds: { } seconds } ? seconds : null;

    /// <summary>The fingerprint of a stage in this run, or null when the run did not reach it.</summary>
    public string? Fingerprint(string stage) => Stages.FirstOrDefault(s => s.Stage == stage)?.Fingerprint;
}

/// <summary>One stage of a recorded run.</summary>
/// <param name="Seconds">How long its outputs took: to compute, or to restore; null when no build on this machine timed them.</param>
public sealed record ExperimentStage(
    string Stage,
    string Fingerprint,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Seconds,
    bool Restored);
