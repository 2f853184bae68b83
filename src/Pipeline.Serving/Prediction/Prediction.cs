using System.Globalization;

namespace Pipeline.Serving.Prediction;

/// <summary>A model's answer for one image.</summary>
/// <param name="ClassId">The most probable class: a 0-based index into the model's classes (and labels.txt).</param>
/// <param name="Label">That class's name.</param>
/// <param name="Probabilities">One per class, in the order of the model's classes; they sum to 1.</param>
public sealed record Prediction(int ClassId, string Label, float[] Probabilities)
{
    /// <summary>The <paramref name="count"/> most probable classes, most probable first (ties: lower id first).</summary>
    public IReadOnlyList<(int ClassId, float Probability)> Top(int count) =>
        [.. Probabilities.Select((p, i) => (ClassId: i, Probability: p))
            .OrderByDescending(c => c.Probability).ThenBy(c => c.ClassId).Take(count)];

    /// <summary>label_image's lines, most probable first: <c>daisy (score=0.99234)</c>.</summary>
    public IEnumerable<string> ScoreLines(IReadOnlyList<string> classes, int count) =>
        Top(count).Select(c => $"{classes[c.ClassId]} (score={c.Probability.ToString("0.00000", CultureInfo.InvariantCulture)})");
}
