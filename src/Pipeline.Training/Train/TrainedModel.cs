using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;

namespace Pipeline.Training.Train;

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

    public JsonObject ToJson() => (JsonObject)JsonSerializer.SerializeToNode(Card.From(this), ManifestJson.Options)!;

    /// <exception cref="PipelineException">Missing, unreadable or not a model card.</exception>
    public static TrainedModel Read(string folder) =>
        ManifestJson.Read<Card>(Path.Combine(folder, CardName), "the model card", "rebuild Train with --target=Train --force").ToModel();

    /// <summary>model.json's shape.</summary>
    private sealed record Card(string Architecture, IReadOnlyList<string> Classes, CardInput Input, int Steps, string Lineage)
    {
        public static Card From(TrainedModel m) => new(m.Architecture, m.Classes, new CardInput(m.Channels, m.InputSize, m.Mean, m.Std), m.Steps, m.Lineage);

        public TrainedModel ToModel() => new(Architecture, Classes, Input.Channels, Input.Size, Input.Mean, Input.Std, Steps, Lineage);
    }

    private sealed record CardInput(int Channels, int Size, IReadOnlyList<double> Mean, IReadOnlyList<double> Std);
}
