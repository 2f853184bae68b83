using System.Globalization;
using System.Text;

namespace Pipeline.Training.Evaluation;

/// <summary>The few lines the Evaluate stage prints: how good the model is, where it is weakest, what it confuses most.</summary>
public static class EvaluationSummary
{
    private const int WeakestShown = 3;

    /// <example>
    /// <code>
    /// 10,000 examples: accuracy 91.23% (top-5 99.80%), mean loss 0.2514
    /// weakest classes by F1: Shirt 0.712, Pullover 0.834, Coat 0.851
    /// most common confusion: Shirt → T-shirt/top: 112 (11.2% of Shirt)
    /// </code>
    /// </example>
    public static string Format(ClassificationMetrics metrics, IReadOnlyList<string> labels)
    {
        if (labels.Count != metrics.ClassCount)
        {
            throw new ArgumentException($"{labels.Count} labels for {metrics.ClassCount} classes: pass labels.txt of the model's dataset", nameof(labels));
        }

        var text = new StringBuilder();
        text.Append(Invariant($"{metrics.ExampleCount:N0} examples: accuracy {Percent(metrics.Accuracy)}"));
        if (metrics.Top5Accuracy is { } top5)
        {
            text.Append(Invariant($" (top-5 {Percent(top5)})"));
        }
        text.Append(Invariant($", mean loss {metrics.MeanLoss:F4}\n"));

        // Classes absent from the split have no F1 worth ranking.
        var weakest = Enumerable.Range(0, metrics.ClassCount)
            .Where(c => metrics.PerClass[c].Support > 0)
            .OrderBy(c => metrics.PerClass[c].F1)
            .ThenBy(c => c)
            .Take(WeakestShown)
            .Select(c => Invariant($"{labels[c]} {metrics.PerClass[c].F1:F3}"));
        text.Append("weakest classes by F1: ").AppendJoin(", ", weakest).Append('\n');

        text.Append("most common confusion: ").Append(MostCommonConfusion(metrics, labels)).Append('\n');
        return text.ToString();
    }

    private static string MostCommonConfusion(ClassificationMetrics metrics, IReadOnlyList<string> labels)
    {
        (int True, int Predicted, long Count) worst = (-1, -1, 0);
        for (var t = 0; t < metrics.ClassCount; t++)
        {
            for (var p = 0; p < metrics.ClassCount; p++)
            {
                if (t != p && metrics.Confusion[t][p] > worst.Count)
                {
                    worst = (t, p, metrics.Confusion[t][p]);
                }
            }
        }
        if (worst.Count == 0)
        {
            return "none (every example is classified correctly)";
        }
        var share = (double)worst.Count / metrics.PerClass[worst.True].Support;
        return Invariant($"{labels[worst.True]} → {labels[worst.Predicted]}: {worst.Count:N0} ({share * 100:F1}% of {labels[worst.True]})");
    }

    private static string Percent(double ratio) => Invariant($"{ratio * 100:F2}%");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
