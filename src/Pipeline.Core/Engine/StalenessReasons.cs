using System.Text.Json.Nodes;

namespace Pipeline.Core.Engine;

/// <summary>Turns differences between the lock entry and the present into sentences a person can act on.</summary>
public static class StalenessReasons
{
    private const int NamesShown = 3;

    /// <summary>"records.shards.train 4 → 8", "records.jpeg_quality set to 90", "labels.fixed removed (was [...])".</summary>
    /// <param name="extendable">Parameters that can grow without starting over (see <see cref="StageDeclaration.Extendable"/>).</param>
    /// <param name="resumePoint">
    /// Asked only when one of them grew: what a run would continue from (see <see cref="IResumable"/>), null when it starts over.
    /// </param>
    public static IEnumerable<string> ForParameters(JsonObject recorded, JsonObject current, IReadOnlyList<string>? extendable = null,
        Func<string?>? resumePoint = null)
    {
        var resumesFrom = new Lazy<string?>(() => resumePoint?.Invoke());
        var before = CanonicalJson.Flatten(recorded, "");
        var after = CanonicalJson.Flatten(current, "");
        foreach (var key in before.Keys.Union(after.Keys).Order(StringComparer.Ordinal))
        {
            var had = before.TryGetValue(key, out var old);
            var has = after.TryGetValue(key, out var now);
            if (had && has && old != now)
            {
                var grows = extendable?.Contains(key) == true
                    && double.TryParse(old, System.Globalization.CultureInfo.InvariantCulture, out var from)
                    && double.TryParse(now, System.Globalization.CultureInfo.InvariantCulture, out var to) && to > from;
                yield return !grows ? $"{key} {old} → {now}"
                    : resumesFrom.Value is { } point ? $"{key} {old} → {now} (extending: continues from {point})"
                    : $"{key} {old} → {now} (no checkpoint of this training to continue from: trains from the start)";
            }
            else if (had && !has)
            {
                yield return $"{key} removed (was {old})";
            }
            else if (!had && has)
            {
                yield return $"{key} set to {now}";
            }
        }
    }

    /// <summary>"datasets/x/train.csv changed", "3 inputs added (a.jpg, b.jpg, c.jpg)".</summary>
    public static IEnumerable<string> ForInputs(IReadOnlyDictionary<string, string> recorded, IReadOnlyDictionary<string, string> current)
    {
        var changed = recorded.Where(p => current.TryGetValue(p.Key, out var hash) && hash != p.Value).Select(p => p.Key).ToList();
        var removed = recorded.Keys.Where(k => !current.ContainsKey(k)).ToList();
        var added = current.Keys.Where(k => !recorded.ContainsKey(k)).ToList();
        if (changed.Count > 0)
        {
            yield return Describe("input", changed, "changed");
        }
        if (added.Count > 0)
        {
            yield return Describe("input", added, "added");
        }
        if (removed.Count > 0)
        {
            yield return Describe("input", removed, "removed");
        }
    }

    /// <summary>"input a.csv changed" for one name; "12 inputs changed (a, b, c, …)" for many.</summary>
    public static string Describe(string noun, IReadOnlyList<string> names, string what)
    {
        var sorted = names.Order(StringComparer.Ordinal).ToList();
        if (sorted.Count == 1)
        {
            return $"{noun} {sorted[0]} {what}";
        }
        var shown = string.Join(", ", sorted.Take(NamesShown));
        var more = sorted.Count > NamesShown ? ", …" : "";
        return $"{sorted.Count} {noun}s {what} ({shown}{more})";
    }
}
