using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Build;

/// <summary>
/// The stage graph of a dataset, as `pipeline dag` prints it and the report shows it: each stage with the stages
/// whose outputs it reads (its edges), fresh or stale, and why.
/// </summary>
public static class ChainGraph
{
    /// <summary>One node: the stage, the stages it reads from (a "dataset:NAME" for the export a transfer starts from), and its state.</summary>
    public sealed record Node(string Stage, IReadOnlyList<string> Reads, StageStatus Status);

    public static IReadOnlyList<Node> Nodes(DatasetPipeline pipeline)
    {
        var statuses = pipeline.Status();
        return [.. pipeline.Stages.Select((stage, i) =>
        {
            IEnumerable<string> reads = stage.Declare().Upstream;
            if (stage.Name == "bottlenecks" && pipeline.Dataset.Transfer?.Backbone is BackboneSource.DatasetExport export)
            {
                reads = reads.Append($"dataset:{export.Dataset}");
            }
            return new Node(stage.Name, [.. reads], statuses[i]);
        })];
    }

    /// <summary>
    /// Text: one line per stage in build order, its state, what it reads, and for a stale stage the reason; a tree
    /// of the edges drawn down the left.
    /// </summary>
    public static string Text(string dataset, IReadOnlyList<Node> nodes)
    {
        var width = nodes.Max(n => n.Stage.Length);
        var text = new StringBuilder($"Dataset {dataset}\n");
        foreach (var node in nodes)
        {
            var reads = node.Reads.Count == 0 ? "(reads the source)" : "← " + string.Join(", ", node.Reads.Select(r => r.StartsWith("dataset:", StringComparison.Ordinal) ? r : DatasetPipeline.Title(r)));
            text.Append($"  {(node.Status.IsFresh ? "●" : "○")} {DatasetPipeline.Title(node.Stage).PadRight(width)}  {(node.Status.IsFresh ? "fresh" : "stale"),-5}  {reads}\n");
            if (!node.Status.IsFresh)
            {
                text.Append($"    {new string(' ', width)}           {node.Status.Summary}\n");
            }
        }
        return text.Append("● fresh  ○ stale (builds on the next run)\n").ToString();
    }

    /// <summary>The graph as JSON, for scripts: every stage with its edges, state and reasons.</summary>
    public static JsonObject Json(string dataset, IReadOnlyList<Node> nodes) => new()
    {
        ["dataset"] = dataset,
        ["stages"] = new JsonArray([.. nodes.Select(n => (JsonNode)new JsonObject
        {
            ["stage"] = n.Stage,
            ["fresh"] = n.Status.IsFresh,
            ["reads"] = new JsonArray([.. n.Reads.Select(r => (JsonNode)r)]),
            ["reasons"] = new JsonArray([.. n.Status.Reasons.Select(r => (JsonNode)r)]),
        })]),
    };
}
