using System.Text.Json.Nodes;
using Pipeline.Core.Records.Proto;
using Pipeline.Training.Input;

namespace Pipeline.Training.Evaluation;

/// <summary>
/// The held-out examples the model got wrong with the most confidence (eval/mistakes.json), with their images: what
/// the report's gallery shows, since the confidently wrong examples say most about what a model has not learned
/// (or which labels are wrong).
/// </summary>
internal sealed class Mistakes
{
    public const string FileName = "mistakes.json";

    /// <summary>How many the file keeps.</summary>
    public const int Kept = 16;

    private readonly List<(long Index, int Label, int Predicted, double Confidence)> _worst = [];
    private long _seen;

    /// <summary>Takes a batch's logits (examples × classes) and true labels, in evaluation order.</summary>
    public void Add(ReadOnlySpan<float> logits, ReadOnlySpan<long> labels)
    {
        var classes = logits.Length / labels.Length;
        for (var i = 0; i < labels.Length; i++, _seen++)
        {
            var row = logits.Slice(i * classes, classes);
            var predicted = 0;
            for (var c = 1; c < classes; c++)
            {
                if (row[c] > row[predicted])
                {
                    predicted = c;
                }
            }
            if (predicted == labels[i])
            {
                continue;
            }
            var sum = 0.0;
            for (var c = 0; c < classes; c++)
            {
                sum += Math.Exp(row[c] - row[predicted]);
            }
            _worst.Add((_seen, (int)labels[i], predicted, 1 / sum));
            if (_worst.Count > 4 * Kept)
            {
                Trim();
            }
        }
    }

    /// <summary>The file: each mistake with its origin, true and predicted label, the confidence, and the image as the records hold it.</summary>
    /// <param name="order">The split's records in evaluation order (the order <see cref="Add"/> saw them).</param>
    public JsonObject ToJson(IEnumerable<RawRecord> order, IReadOnlyList<string> labels, string split)
    {
        Trim();
        var wanted = _worst.ToDictionary(w => w.Index);
        var found = new Dictionary<long, (string Filename, string Format, string Image)>();
        long index = 0;
        foreach (var record in order)
        {
            if (wanted.ContainsKey(index))
            {
                var features = Example.Parser.ParseFrom(record.Data).Features.Feature;
                string Text(string key) => features.TryGetValue(key, out var f) && f.BytesList?.Value.Count > 0 ? f.BytesList.Value[0].ToStringUtf8() : "";
                var image = features.TryGetValue("image/encoded", out var encoded) && encoded.BytesList?.Value.Count > 0 ? encoded.BytesList.Value[0].ToBase64() : "";
                found[index] = (Text("image/filename"), Text("image/format"), image);
                if (found.Count == wanted.Count)
                {
                    break;
                }
            }
            index++;
        }
        var items = new JsonArray();
        foreach (var w in _worst)
        {
            var (filename, format, image) = found.GetValueOrDefault(w.Index, ("", "", ""));
            items.Add(new JsonObject
            {
                ["index"] = w.Index,
                ["filename"] = filename,
                ["label"] = labels[w.Label],
                ["predicted"] = labels[w.Predicted],
                ["confidence"] = Math.Round(w.Confidence, 6),
                ["format"] = format,
                ["image"] = image,
            });
        }
        return new JsonObject { ["split"] = split, ["examples"] = _seen, ["mistakes"] = items };
    }

    /// <summary>Keeps the most confident; equal confidences by evaluation order, so the file is deterministic.</summary>
    private void Trim()
    {
        var kept = _worst.OrderByDescending(w => w.Confidence).ThenBy(w => w.Index).Take(Kept).ToList();
        _worst.Clear();
        _worst.AddRange(kept);
    }
}
