using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Experiments;
using Pipeline.Training.Evaluation;
using Pipeline.Training.Train;
using ScottPlot;

namespace Pipeline.Training.Report;

/// <summary>
/// artifacts/&lt;dataset&gt;/report/index.html: one page, with nothing fetched from anywhere, that shows the chain's
/// state, the current run's figures against the previous run's, the training curves of recent runs overlaid, the
/// confusion matrix, per-class precision and recall, and the most confidently wrong held-out images.
/// </summary>
/// <remarks>
/// Not a stage: it reads the experiments log and the state of every stage, which no fingerprint covers, so it is
/// written whole whenever asked (`pipeline report`, and at the end of a build that ran a stage).
/// </remarks>
public static class RunReport
{
    public const string Folder = "report";
    public const string FileName = "index.html";

    /// <summary>How many runs' curves are overlaid by default: the current one and the most recent others.</summary>
    public const int OverlaidRuns = 5;

    /// <summary>Writes the report and returns its path.</summary>
    /// <param name="runIds">The runs whose curves to overlay (ids or prefixes); null for the current and the most recent others.</param>
    public static string Write(DatasetPipeline pipeline, IReadOnlyList<string>? runIds = null)
    {
        var html = Render(pipeline, runIds);
        var path = Path.Combine(pipeline.ArtifactsDirectory, Folder, FileName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllText(path, html);
        return path;
    }

    public static string Render(DatasetPipeline pipeline, IReadOnlyList<string>? runIds = null)
    {
        var dataset = pipeline.Dataset.Name;
        var runs = pipeline.Runs();
        var eval = Path.Combine(pipeline.ArtifactsDirectory, EvaluateStage.Output);
        var metrics = ReadJson(Path.Combine(eval, EvaluateStage.MetricsName));
        var html = new StringBuilder();
        html.Append(CultureInfo.InvariantCulture, $"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>{E(dataset)}: pipeline report</title>
            <style>{Style}</style>
            </head>
            <body>
            <h1>{E(dataset)}</h1>
            <p class="generated">Written {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC{(runs.Current is { } current ? $"; the artifacts hold run <code>{current.Id}</code>{Commit(current)}{Overrides(current)}" : "; no recorded run matches the artifacts")}.</p>

            """);
        Chain(html, pipeline);
        Figures(html, runs, metrics);
        Curves(html, pipeline, runs, runIds);
        Confusion(html, metrics);
        PerClass(html, metrics);
        Gallery(html, ReadJson(Path.Combine(eval, Mistakes.FileName)));
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    private static void Chain(StringBuilder html, DatasetPipeline pipeline)
    {
        var times = StageTimes.Read(pipeline.ArtifactsDirectory);
        html.Append("<section id=\"chain\">\n<h2>Chain</h2>\n<table id=\"stages\">\n<tr><th>stage</th><th>state</th><th>reads</th><th>took</th><th>reason</th></tr>\n");
        foreach (var node in ChainGraph.Nodes(pipeline))
        {
            var state = node.Status.IsFresh ? "fresh" : "stale";
            var took = times.GetValueOrDefault(node.Stage) is { } t && t.Fingerprint == node.Status.Fingerprint
                ? $"{t.Seconds.ToString("0.0", CultureInfo.InvariantCulture)} s{(t.Restored ? " (restored)" : "")}"
                : "";
            html.Append(CultureInfo.InvariantCulture, $"<tr class=\"stage {state}\" data-stage=\"{E(node.Stage)}\"><td>{E(DatasetPipeline.Title(node.Stage))}</td><td>{state}</td>"
                + $"<td>{E(string.Join(", ", node.Reads.Select(r => r.StartsWith("dataset:", StringComparison.Ordinal) ? r : DatasetPipeline.Title(r))))}</td>"
                + $"<td>{took}</td><td>{E(node.Status.Summary)}</td></tr>\n");
        }
        html.Append("</table>\n</section>\n");
    }

    private static void Figures(StringBuilder html, ExperimentRuns runs, JsonObject? metrics)
    {
        html.Append("<section id=\"metrics\">\n<h2>Figures</h2>\n");
        var current = runs.Current;
        var previous = current is null ? null : runs.Runs.LastOrDefault(r => r.Time < current.Time && r.Id != current.Id);
        if (current is null && metrics is null)
        {
            html.Append("<p>No figures yet: build up to Evaluate.</p>\n</section>\n");
            return;
        }
        html.Append(CultureInfo.InvariantCulture, $"<table id=\"figures\">\n<tr><th>metric</th><th>{(previous is null ? "" : $"previous run <code>{previous.Id}</code>")}</th><th>this run</th><th>change</th></tr>\n");
        var figures = current?.Metrics ?? metrics!;
        foreach (var (name, value) in figures.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (ExperimentRecord.Number(value) is null)
            {
                continue;
            }
            var (difference, verdict) = ExperimentTables.Change(name, previous?.Metrics[name], value);
            html.Append(CultureInfo.InvariantCulture, $"<tr data-metric=\"{E(name)}\"><td>{E(name)}</td><td>{(previous is null ? "" : ExperimentTables.ShowMetric(name, previous.Metrics[name]))}</td><td>{ExperimentTables.ShowMetric(name, value)}</td><td class=\"{verdict}\">{difference}{(verdict.Length > 0 ? $" ({verdict})" : "")}</td></tr>\n");
        }
        html.Append("</table>\n");
        if (previous is not null && current is not null)
        {
            var changed = ExperimentRuns.DifferingParameters([previous, current]);
            html.Append(changed.Count == 0
                ? "<p>Same parameters as the previous run.</p>\n"
                : $"<p>Parameters changed since the previous run: {string.Join("; ", changed.Select(k => $"<code>{E(k)}</code> {E(ExperimentRuns.Show(previous.Parameters.GetValueOrDefault(k)))} → {E(ExperimentRuns.Show(current.Parameters.GetValueOrDefault(k)))}"))}.</p>\n");
        }
        html.Append("</section>\n");
    }

    private static void Curves(StringBuilder html, DatasetPipeline pipeline, ExperimentRuns runs, IReadOnlyList<string>? runIds)
    {
        var chosen = runIds is null
            ? runs.Runs.Where(r => r != runs.Current).TakeLast(OverlaidRuns - 1).Append(runs.Current).OfType<ExperimentRecord>().ToList()
            : [.. runIds.Select(id => runs.Find(id, _ => null))];
        var series = new List<(string Name, IReadOnlyList<HistoryPoint> History)>();
        foreach (var run in chosen)
        {
            if (History(pipeline, runs, run) is { Count: > 0 } history)
            {
                series.Add(($"{run.Id}{(run.Overrides.Count == 0 ? "" : " " + string.Join(" ", run.Overrides))}", history));
            }
        }
        if (series.Count == 0 && ReadHistory(Path.Combine(pipeline.ArtifactsDirectory, TrainStage.Output, TrainedModel.HistoryName)) is { Count: > 0 } own)
        {
            series.Add(("this build", own));
        }
        html.Append("<section id=\"curves\">\n<h2>Training curves</h2>\n");
        if (series.Count == 0)
        {
            html.Append("<p>No training history yet: build up to Train.</p>\n</section>\n");
            return;
        }
        html.Append(CultureInfo.InvariantCulture, $"<p>{series.Count} run{(series.Count == 1 ? "" : "s")}, by step: the held-out accuracy during training, and the training loss.</p>\n");
        html.Append("<div class=\"plot\" id=\"eval-accuracy\">").Append(Svg("held-out accuracy", series, p => p.EvalAccuracy, Alignment.LowerRight)).Append("</div>\n");
        html.Append("<div class=\"plot\" id=\"train-loss\">").Append(Svg("training loss", series, p => p.TrainLoss, Alignment.UpperRight)).Append("</div>\n</section>\n");
    }

    /// <summary>A run's history: the artifacts' own when the run is the current one, else the run-cache's copy of its Train output.</summary>
    private static IReadOnlyList<HistoryPoint>? History(DatasetPipeline pipeline, ExperimentRuns runs, ExperimentRecord run)
    {
        var fingerprint = run.Fingerprint("train");
        if (fingerprint is null)
        {
            return null;
        }
        var path = runs.CurrentFingerprint("train") == fingerprint
            ? Path.Combine(pipeline.ArtifactsDirectory, TrainStage.Output, TrainedModel.HistoryName)
            : pipeline.Cache?.StoredOutput("train", fingerprint, $"{TrainStage.Output}/{TrainedModel.HistoryName}");
        return path is null ? null : ReadHistory(path);
    }

    private static IReadOnlyList<HistoryPoint>? ReadHistory(string path)
    {
        try
        {
            return File.Exists(path) ? HistoryJson.Read(path) : null;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    private static string Svg(string title, IReadOnlyList<(string Name, IReadOnlyList<HistoryPoint> History)> series, Func<HistoryPoint, double> value, Alignment legend)
    {
        var plot = new Plot();
        plot.Font.Set(PlotFont.Name);
        for (var i = 0; i < series.Count; i++)
        {
            var (name, history) = series[i];
            var line = plot.Add.Scatter(history.Select(p => (double)p.Step).ToArray(), history.Select(value).ToArray(), plot.Add.Palette.GetColor(i));
            line.LegendText = name;
            line.LineWidth = 2;
            line.MarkerSize = history.Count <= 40 ? 5 : 0;
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.ShowLegend(legend);
        var svg = plot.GetSvgXml(760, 360);
        // The XML prolog is not allowed inside HTML.
        return svg.StartsWith("<?xml", StringComparison.Ordinal) ? svg[(svg.IndexOf("?>", StringComparison.Ordinal) + 2)..] : svg;
    }

    private static void Confusion(StringBuilder html, JsonObject? metrics)
    {
        if (metrics?["confusion_matrix"] is not JsonObject matrix || matrix["labels"] is not JsonArray labels || matrix["rows"] is not JsonArray rows)
        {
            return;
        }
        html.Append(CultureInfo.InvariantCulture, $"<section id=\"confusion-matrix\">\n<h2>Confusion matrix ({E(metrics["split"]?.ToString() ?? "")} split; rows: true label, columns: predicted)</h2>\n<table id=\"confusion\">\n<tr><th></th>");
        foreach (var label in labels)
        {
            html.Append(CultureInfo.InvariantCulture, $"<th class=\"column\">{E(label?.ToString() ?? "")}</th>");
        }
        html.Append("</tr>\n");
        for (var r = 0; r < rows.Count; r++)
        {
            var cells = rows[r]!.AsArray().Select(c => ExperimentRecord.Number(c) ?? 0).ToArray();
            var total = Math.Max(1, cells.Sum());
            html.Append(CultureInfo.InvariantCulture, $"<tr><th>{E(labels[r]?.ToString() ?? "")}</th>");
            for (var c = 0; c < cells.Length; c++)
            {
                // Shaded by the share of the true class: the diagonal dark where the model is right, an off-diagonal cell where it confuses.
                var share = cells[c] / total;
                var colour = r == c
                    ? string.Create(CultureInfo.InvariantCulture, $"rgba(40,120,60,{share:0.00})")
                    : string.Create(CultureInfo.InvariantCulture, $"rgba(200,60,40,{Math.Min(1, share * 3):0.00})");
                html.Append(CultureInfo.InvariantCulture, $"<td style=\"background:{colour}\" title=\"{share:P1}\">{cells[c].ToString(CultureInfo.InvariantCulture)}</td>");
            }
            html.Append("</tr>\n");
        }
        html.Append("</table>\n</section>\n");
    }

    private static void PerClass(StringBuilder html, JsonObject? metrics)
    {
        if (metrics?["per_class"] is not JsonObject classes)
        {
            return;
        }
        html.Append("<section id=\"classes\">\n<h2>Per class</h2>\n<table id=\"per-class\">\n<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>\n");
        foreach (var (label, node) in classes.OrderBy(c => ExperimentRecord.Number(c.Value?["f1"]) ?? 0))
        {
            string F(string key) => ExperimentRuns.Show(ExperimentRecord.Number(node?[key]));
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(label)}</td><td>{F("precision")}</td><td>{F("recall")}</td><td>{F("f1")}</td><td>{ExperimentRecord.Number(node?["support"])?.ToString(CultureInfo.InvariantCulture)}</td></tr>\n");
        }
        html.Append("</table>\n<p>Weakest first, by F1.</p>\n</section>\n");
    }

    private static void Gallery(StringBuilder html, JsonObject? mistakes)
    {
        html.Append("<section id=\"mistakes\">\n<h2>Most confidently wrong</h2>\n");
        if (mistakes?["mistakes"] is not JsonArray items || items.Count == 0)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p>{E(mistakes?["note"]?.ToString() ?? (mistakes is null ? "No eval/mistakes.json: build Evaluate." : "No mistakes: every held-out example is right."))}</p>\n</section>\n");
            return;
        }
        html.Append(CultureInfo.InvariantCulture, $"<p>The {items.Count} {E(mistakes["split"]?.ToString() ?? "")} examples the model got wrong with the most confidence.</p>\n<div class=\"gallery\">\n");
        foreach (var item in items.OfType<JsonObject>())
        {
            var format = item["format"]?.ToString().ToLowerInvariant() switch { "png" => "png", "jpeg" or "jpg" => "jpeg", var other => other ?? "png" };
            var confidence = ExperimentRecord.Number(item["confidence"]) ?? 0;
            html.Append($"<figure class=\"mistake\"><img src=\"data:image/{E(format)};base64,{E(item["image"]?.ToString() ?? "")}\" alt=\"{E(item["filename"]?.ToString() ?? "")}\" ")
                .Append("onerror=\"this.classList.add('broken')\">")
                .Append($"<figcaption><span class=\"true\">{E(item["label"]?.ToString() ?? "")}</span> taken for <span class=\"predicted\">{E(item["predicted"]?.ToString() ?? "")}</span> ")
                .Append($"({confidence.ToString("0.00", CultureInfo.InvariantCulture)})<br><small>{E(item["filename"]?.ToString() ?? "")}</small></figcaption></figure>\n");
        }
        html.Append("</div>\n</section>\n");
    }

    private static JsonObject? ReadJson(string path)
    {
        try
        {
            return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) as JsonObject : null;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    private static string Commit(ExperimentRecord run) => run.Git is { } git ? $" at commit <code>{git.Commit[..7]}</code>{(git.Dirty ? " (with changes not committed)" : "")}" : "";

    private static string Overrides(ExperimentRecord run) => run.Overrides.Count == 0 ? "" : $", with <code>{E(string.Join(" ", run.Overrides))}</code>";

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private const string Style = """
        body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
        h1 { margin-bottom: 0.2em; } .generated { color: #666; }
        table { border-collapse: collapse; margin: 0.5em 0 1em; } th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
        tr.fresh td:nth-child(2) { color: #1a7f37; } tr.stale td:nth-child(2) { color: #b35900; font-weight: bold; }
        td.better { color: #1a7f37; } td.worse { color: #c62828; }
        #confusion td { text-align: right; min-width: 3em; } #confusion th.column { writing-mode: vertical-rl; }
        .gallery { display: flex; flex-wrap: wrap; gap: 12px; }
        figure.mistake { margin: 0; width: 150px; text-align: center; font-size: 0.85em; }
        figure.mistake img { width: 112px; height: 112px; image-rendering: pixelated; object-fit: contain; border: 1px solid #ccc; }
        img.broken { outline: 3px solid red; }
        .true { color: #1a7f37; } .predicted { color: #c62828; }
        """;
}
