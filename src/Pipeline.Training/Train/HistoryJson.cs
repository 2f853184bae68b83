using System.Text.Json;

namespace Pipeline.Training.Train;

/// <summary>How history rows are written in history.json and checkpoints: snake_case keys.</summary>
public static class HistoryJson
{
    public static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static IReadOnlyList<HistoryPoint> Read(string path) =>
        JsonSerializer.Deserialize<List<HistoryPoint>>(File.ReadAllText(path), Options) ?? [];
}
