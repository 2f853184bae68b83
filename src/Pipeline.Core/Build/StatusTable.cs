using System.Text;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Build;

/// <summary>The status table: stage, fresh or stale, and the engine's reason, one stage per line.</summary>
public static class StatusTable
{
    public static string Render(DatasetPipeline pipeline) => Render(pipeline.Dataset.Name, pipeline.Status());

    public static string Render(string dataset, IReadOnlyList<StageStatus> statuses)
    {
        var width = Math.Max("Stage".Length, statuses.Select(s => s.Stage.Length).DefaultIfEmpty(0).Max());
        var text = new StringBuilder();
        text.Append($"Dataset {dataset}\n");
        text.Append($"{"Stage".PadRight(width)}  {"State",-5}  Reason\n");
        foreach (var status in statuses)
        {
            text.Append($"{DatasetPipeline.Title(status.Stage).PadRight(width)}  {(status.IsFresh ? "fresh" : "stale"),-5}  {status.Summary}\n");
        }
        return text.ToString();
    }
}
