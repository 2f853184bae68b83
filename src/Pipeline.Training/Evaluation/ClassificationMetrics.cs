using System.Text.Json.Nodes;

namespace Pipeline.Training.Evaluation;

/// <summary>A classifier's scores over one evaluated split; classes are 0-based indices into labels.txt.</summary>
/// <param name="ExampleCount">Examples evaluated.</param>
/// <param name="Accuracy">Share of examples whose highest logit is the true class.</param>
/// <param name="Top5Accuracy">Share whose true class is among the five highest logits; null with five classes or fewer, where it is always 1.</param>
/// <param name="MeanLoss">Mean cross-entropy per example.</param>
/// <param name="PerClass">Scores per class, in class index order.</param>
/// <param name="MacroPrecision">Unweighted mean precision over the classes that occur as a target or a prediction.</param>
/// <param name="MacroRecall">Unweighted mean recall over the same classes.</param>
/// <param name="MacroF1">Unweighted mean F1 over the same classes.</param>
/// <param name="Confusion">Counts: row = true class, column = predicted class.</param>
public sealed record ClassificationMetrics(
    long ExampleCount,
    double Accuracy,
    double? Top5Accuracy,
    double MeanLoss,
    IReadOnlyList<ClassMetrics> PerClass,
    double MacroPrecision,
    double MacroRecall,
    double MacroF1,
    IReadOnlyList<IReadOnlyList<long>> Confusion)
{
    /// <summary>Digits kept after the decimal point in metrics.json: enough to compare runs, few enough to diff.</summary>
    public const int JsonDecimals = 6;

    public int ClassCount => PerClass.Count;

    /// <summary>
    /// The content of metrics.json: snake_case keys, numbers rounded to <see cref="JsonDecimals"/> decimals, classes named
    /// by <paramref name="labels"/> (labels.txt order). <paramref name="extra"/> adds fields such as "checkpoint", "split"
    /// or "model"; they may not replace a metric. Write it with CanonicalJson, which sorts keys and spells numbers invariantly.
    /// </summary>
    public JsonObject ToJson(IReadOnlyList<string> labels, JsonObject? extra = null)
    {
        if (labels.Count != ClassCount)
        {
            throw new ArgumentException($"{labels.Count} labels for {ClassCount} classes: pass labels.txt of the model's dataset", nameof(labels));
        }

        var perClass = new JsonObject();
        for (var c = 0; c < ClassCount; c++)
        {
            var m = PerClass[c];
            if (perClass.ContainsKey(labels[c]))
            {
                throw new ArgumentException($"label \"{labels[c]}\" appears twice; labels.txt holds unique labels", nameof(labels));
            }
            perClass[labels[c]] = new JsonObject
            {
                ["precision"] = Round(m.Precision),
                ["recall"] = Round(m.Recall),
                ["f1"] = Round(m.F1),
                ["support"] = m.Support,
                ["predicted"] = m.Predicted,
            };
        }

        var json = new JsonObject
        {
            ["examples"] = ExampleCount,
            ["accuracy"] = Round(Accuracy),
        };
        if (Top5Accuracy is { } top5)
        {
            json["top5_accuracy"] = Round(top5);
        }
        json["loss"] = Round(MeanLoss);
        json["macro"] = new JsonObject
        {
            ["precision"] = Round(MacroPrecision),
            ["recall"] = Round(MacroRecall),
            ["f1"] = Round(MacroF1),
        };
        json["per_class"] = perClass;
        json["confusion_matrix"] = new JsonObject
        {
            ["labels"] = new JsonArray([.. labels.Select(l => JsonValue.Create(l))]),
            ["rows"] = new JsonArray([.. Confusion.Select(row => new JsonArray([.. row.Select(n => JsonValue.Create(n))]))]),
        };

        foreach (var (key, value) in extra ?? [])
        {
            if (json.ContainsKey(key))
            {
                throw new ArgumentException($"extra field \"{key}\" would replace a metric; metric keys: {string.Join(", ", json.Select(p => p.Key))}", nameof(extra));
            }
            json[key] = value?.DeepClone();
        }
        return json;
    }

    private static double Round(double value) => Math.Round(value, JsonDecimals, MidpointRounding.ToEven);
}
