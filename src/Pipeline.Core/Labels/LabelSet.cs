using Pipeline.Core.Engine;

namespace Pipeline.Core.Labels;

/// <summary>The contents of labels.txt: sorted, unique labels; a label's class id is its index + 1.</summary>
public sealed class LabelSet
{
    private readonly Dictionary<string, int> _index;

    public LabelSet(IEnumerable<string> labels)
    {
        Labels = labels.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        _index = Labels.Select((label, i) => (label, i)).ToDictionary(p => p.label, p => p.i, StringComparer.Ordinal);
    }

    public IReadOnlyList<string> Labels { get; }

    public int Count => Labels.Count;

    public bool Contains(string label) => _index.ContainsKey(label);

    /// <summary>The 1-based id written to image/class/label, as the reference converter does (0 is left for "background").</summary>
    public int ClassId(string label) => _index[label] + 1;

    public string ToText() => string.Concat(Labels.Select(l => l + "\n"));

    public static LabelSet Read(string path)
    {
        var lines = File.ReadAllLines(path);
        for (var i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i]))
            {
                throw new PipelineException("blank label; labels.txt holds one label per line", $"{path}:{i + 1}");
            }
        }
        return new LabelSet(lines);
    }

    /// <summary>The closest known label, for "did you mean" hints; null when nothing is close.</summary>
    public string? Closest(string label)
    {
        if (Labels.Count == 0)
        {
            return null;
        }
        var best = Labels.Select(l => (l, d: Distance(l.ToLowerInvariant(), label.ToLowerInvariant()))).MinBy(p => p.d);
        return best.l is not null && best.d <= Math.Max(2, label.Length / 3) ? best.l : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            previous = current;
        }
        return previous[b.Length];
    }
}
