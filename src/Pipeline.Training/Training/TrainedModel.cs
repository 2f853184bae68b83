using System.Text.Json.Nodes;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;

namespace Pipeline.Training.Training;

/// <summary>
/// train/model.json: what a trained model is (architecture, classes, input) so that it can be used without
/// dataset.json: by Evaluate, Export and anything serving it.
/// </summary>
public sealed record TrainedModel(string Architecture, IReadOnlyList<string> Classes, int Channels, int InputSize,
    IReadOnlyList<double> Mean, IReadOnlyList<double> Std, int Steps, string Lineage)
{
    public const string WeightsName = "model.bin";
    public const string CardName = "model.json";
    public const string HistoryName = "history.json";

    public static TrainedModel From(TrainParameters train, int channels, IReadOnlyList<string> classes, string lineage) =>
        new(train.Model, classes, channels, train.InputSize, train.Normalization.Mean, train.Normalization.Std, train.TrainSteps, lineage);

    /// <summary>Writes the Train stage's outputs into <paramref name="folder"/>: the weights, this card, and the history.</summary>
    public void Write(string folder, byte[] weights, IReadOnlyList<HistoryPoint> history)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, WeightsName), weights);
        File.WriteAllText(Path.Combine(folder, CardName), CanonicalJson.Serialize(ToJson(), indented: true));
        File.WriteAllText(Path.Combine(folder, HistoryName), CanonicalJson.Serialize(
            System.Text.Json.JsonSerializer.SerializeToNode(history, HistoryJson.Options), indented: true));
    }

    /// <summary>What the model reads, as the input pipeline and the serving path take it.</summary>
    public InputSpec Input => new(Channels, InputSize, [.. Mean.Select(m => (float)m)], [.. Std.Select(s => (float)s)]);

    public JsonObject ToJson() => new()
    {
        ["architecture"] = Architecture,
        ["classes"] = new JsonArray([.. Classes.Select(c => JsonValue.Create(c))]),
        ["input"] = new JsonObject
        {
            ["channels"] = Channels,
            ["size"] = InputSize,
            ["mean"] = new JsonArray([.. Mean.Select(m => JsonValue.Create(m))]),
            ["std"] = new JsonArray([.. Std.Select(m => JsonValue.Create(m))]),
        },
        ["steps"] = Steps,
        ["lineage"] = Lineage,
    };

    public static TrainedModel Read(string folder)
    {
        var path = Path.Combine(folder, CardName);
        try
        {
            var json = JsonNode.Parse(File.ReadAllText(path))!;
            var input = json["input"]!;
            return new TrainedModel(
                json["architecture"]!.GetValue<string>(),
                [.. json["classes"]!.AsArray().Select(c => c!.GetValue<string>())],
                input["channels"]!.GetValue<int>(),
                input["size"]!.GetValue<int>(),
                [.. input["mean"]!.AsArray().Select(m => m!.GetValue<double>())],
                [.. input["std"]!.AsArray().Select(m => m!.GetValue<double>())],
                json["steps"]!.GetValue<int>(),
                json["lineage"]!.GetValue<string>());
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new PipelineException($"cannot read the model card ({e.Message}); rebuild Train with --target=Train --force", path, e);
        }
    }
}
