using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Experiments;

/// <summary>What `pipeline exp show`, `metrics diff` and `params diff` print: aligned text, CSV or JSON.</summary>
public static class ExperimentTables
{
    /// <summary>The figures exp show gives a column each, when any run has them.</summary>
    public static readonly IReadOnlyList<string> ShownMetrics = ["accuracy", "eval_accuracy", "loss"];

    /// <summary>Whether a smaller value of the metric is better (a loss); a larger one otherwise.</summary>
    public static bool LowerIsBetter(string metric) => metric.EndsWith("loss", StringComparison.Ordinal);

    /// <summary>Whether the metric measures quality (an accuracy or a loss), so a change in it is better or worse; steps or examples are neither.</summary>
    public static bool IsQuality(string metric) => metric.EndsWith("loss", StringComparison.Ordinal) || metric.Contains("accuracy", StringComparison.Ordinal);

    /// <summary>The runs in the order exp show lists them: by time, or best first by a metric (runs without it last).</summary>
    /// <exception cref="PipelineException">No run has the metric.</exception>
    public static IReadOnlyList<ExperimentRecord> Sorted(ExperimentRuns runs, string? metric)
    {
        if (metric is null)
        {
            return runs.Runs;
        }
        if (runs.Runs.Count > 0 && runs.Runs.All(r => r.Metric(metric) is null))
        {
            var known = runs.Runs.SelectMany(r => r.Metrics.Where(m => ExperimentRecord.Number(m.Value) is not null).Select(m => m.Key)).Distinct().Order();
            throw new PipelineException($"no run has a metric \"{metric}\"; metrics: {string.Join(", ", known)}");
        }
        var sign = LowerIsBetter(metric) ? 1 : -1;
        return [.. runs.Runs.OrderBy(r => r.Metric(metric) is null).ThenBy(r => sign * (r.Metric(metric) ?? 0))];
    }

    /// <summary>The table's header and rows: id, whether current, time, commit, the parameters that differ, the figures, train minutes.</summary>
    public static (IReadOnlyList<string> Header, IReadOnlyList<IReadOnlyList<string>> Rows) Rows(ExperimentRuns runs, IReadOnlyList<ExperimentRecord> order)
    {
        var parameters = ExperimentRuns.DifferingParameters(order);
        var metrics = ShownMetrics.Where(m => order.Any(r => r.Metric(m) is not null)).ToList();
        IReadOnlyList<string> header = ["run", "current", "time", "commit", .. parameters, .. metrics, "train_min"];
        var rows = order.Select(r => (IReadOnlyList<string>)
        [
            r.Id,
            r == runs.Current ? "*" : "",
            r.Time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
            r.Git is { } git ? git.Commit[..7] + (git.Dirty ? "+" : "") : "—",
            .. parameters.Select(p => ExperimentRuns.Show(r.Parameters.GetValueOrDefault(p))),
            .. metrics.Select(m => ExperimentRuns.Show(r.Metric(m))),
            runs.TrainMinutes(r) is { } minutes ? minutes.ToString("0.0", CultureInfo.InvariantCulture) : "—",
        ]).ToList();
        return (header, rows);
    }

    /// <summary>Aligned columns, "*" marking the run the artifacts hold, and a line saying what the marks mean.</summary>
    public static string Text(ExperimentRuns runs, IReadOnlyList<ExperimentRecord> order, string dataset)
    {
        if (order.Count == 0)
        {
            return $"No runs of {dataset} are recorded yet: a build through Train records one (./build.sh, or pipeline exp run -S KEY=VALUE).\n";
        }
        var (header, rows) = Rows(runs, order);
        var text = Aligned([["", .. header.Where(h => h != "current")], .. rows.Select(r => (IReadOnlyList<string>)[r[1], r[0], .. r.Skip(2)])]);
        return text + $"{order.Count} run{(order.Count == 1 ? "" : "s")} of {dataset}; * the artifacts hold this run; the parameters shown are those that differ; a commit ending in + had changes not committed\n";
    }

    public static string Csv(ExperimentRuns runs, IReadOnlyList<ExperimentRecord> order)
    {
        var (header, rows) = Rows(runs, order);
        var text = new StringBuilder();
        foreach (var row in rows.Prepend(header))
        {
            text.Append(string.Join(",", row.Select(CsvField))).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>Every run whole, with "current" and "times_recorded", as a JSON array.</summary>
    public static string Json(ExperimentRuns runs, IReadOnlyList<ExperimentRecord> order)
    {
        var array = new JsonArray();
        foreach (var run in order)
        {
            var node = System.Text.Json.JsonSerializer.SerializeToNode(run, ExperimentLog.Json)!.AsObject();
            node["current"] = run == runs.Current;
            node["times_recorded"] = runs.TimesRecorded(run.Id);
            node["train_minutes"] = runs.TrainMinutes(run) is { } m ? Math.Round(m, 2) : null;
            array.Add(node);
        }
        return array.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Each metric of either run: its value in a and in b, and the change (b − a).</summary>
    public static string MetricsDiff(ExperimentRecord a, ExperimentRecord b)
    {
        var names = a.Metrics.Select(m => m.Key).Concat(b.Metrics.Select(m => m.Key)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var rows = new List<IReadOnlyList<string>> { (IReadOnlyList<string>)["metric", a.Id, b.Id, "change"] };
        foreach (var name in names)
        {
            var (x, y) = (a.Metric(name), b.Metric(name));
            if (x is null && y is null)
            {
                var (s, t) = (a.Metrics[name]?.ToString() ?? "—", b.Metrics[name]?.ToString() ?? "—");
                rows.Add([name, s, t, s == t ? "" : "changed"]);
                continue;
            }
            var (difference, verdict) = Change(name, a.Metrics[name], b.Metrics[name]);
            rows.Add([name, ShowMetric(name, a.Metrics[name]), ShowMetric(name, b.Metrics[name]), difference + (verdict.Length == 0 ? "" : $" ({verdict})")]);
        }
        return Aligned(rows);
    }

    /// <summary>The parameters whose values differ between two runs, and each run's overrides.</summary>
    public static string ParamsDiff(ExperimentRecord a, ExperimentRecord b)
    {
        var keys = ExperimentRuns.DifferingParameters([a, b]);
        if (keys.Count == 0)
        {
            return $"runs {a.Id} and {b.Id} have the same parameters{(a.Id == b.Id ? "" : " (they differ in inputs or code: compare their commits)")}\n";
        }
        var rows = new List<IReadOnlyList<string>> { (IReadOnlyList<string>)["parameter", a.Id, b.Id] };
        rows.AddRange(keys.Select(k => (IReadOnlyList<string>)[k, ExperimentRuns.Show(a.Parameters.GetValueOrDefault(k)), ExperimentRuns.Show(b.Parameters.GetValueOrDefault(k))]));
        return Aligned(rows);
    }

    /// <summary>
    /// How a figure moved between two runs: the difference as the tables print it (a count as a whole number, anything
    /// else with four decimals; "" unless both are numbers), and "better" or "worse" for an accuracy or a loss that changed.
    /// </summary>
    public static (string Difference, string Verdict) Change(string name, JsonNode? before, JsonNode? after)
    {
        if (ExperimentRecord.Number(before) is not { } was || ExperimentRecord.Number(after) is not { } now)
        {
            return ("", "");
        }
        var whole = !IsQuality(name) && IsWhole(before) && IsWhole(after);
        var difference = (now - was).ToString(whole ? "+0;-0;0" : "+0.0000;-0.0000;0", CultureInfo.InvariantCulture);
        var verdict = was != now && IsQuality(name) ? ((now < was) == LowerIsBetter(name) ? "better" : "worse") : "";
        return (difference, verdict);
    }

    /// <summary>A figure as the tables print it: a count (steps, examples) as a whole number, anything else with four decimals.</summary>
    public static string ShowMetric(string name, JsonNode? node) =>
        !IsQuality(name) && IsWhole(node) ? Whole(ExperimentRecord.Number(node)) : ExperimentRuns.Show(ExperimentRecord.Number(node));

    /// <summary>Whether a figure is written as a whole number (a count of steps or examples), or absent.</summary>
    private static bool IsWhole(JsonNode? node) => node is null || (ExperimentRecord.Number(node) is not null && !node.ToJsonString().Any(c => c is '.' or 'e' or 'E'));

    private static string Whole(double? value) => value is { } v ? v.ToString("0", CultureInfo.InvariantCulture) : "—";

    private static string Aligned(IReadOnlyList<IReadOnlyList<string>> rows)
    {
        var widths = Enumerable.Range(0, rows.Max(r => r.Count)).Select(i => rows.Max(r => i < r.Count ? r[i].Length : 0)).ToArray();
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            text.Append(string.Join("  ", row.Select((cell, i) => i == row.Count - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd()).Append('\n');
        }
        return text.ToString();
    }

    private static string CsvField(string value) =>
        value.Contains(',', StringComparison.Ordinal) || value.Contains('"', StringComparison.Ordinal) ? $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : value;
}
