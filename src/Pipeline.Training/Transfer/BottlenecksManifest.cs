using System.Text.Json.Nodes;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;

namespace Pipeline.Training.Transfer;

/// <summary>
/// bottlenecks/manifest.json: which backbone computed the bottlenecks, what it reads (the input a transferred model
/// is then served with), the values per image, and the examples of each split.
/// </summary>
public sealed record BottlenecksManifest(string Backbone, InputSpec Input, int Dimension, IReadOnlyDictionary<string, int> Splits)
{
    public void Write(string path) => File.WriteAllText(path, CanonicalJson.Serialize(new JsonObject
    {
        ["backbone"] = Backbone,
        ["input"] = new JsonObject
        {
            ["channels"] = Input.Channels,
            ["size"] = Input.Size,
            ["mean"] = new JsonArray([.. Input.Mean.Select(m => JsonValue.Create(m))]),
            ["std"] = new JsonArray([.. Input.Std.Select(s => JsonValue.Create(s))]),
        },
        ["dimension"] = Dimension,
        ["splits"] = new JsonObject(Splits.Select(s => KeyValuePair.Create(s.Key, (JsonNode?)s.Value))),
    }, indented: true) + "\n");

    /// <exception cref="PipelineException">Missing or not a manifest this stage wrote.</exception>
    public static BottlenecksManifest Read(string path)
    {
        try
        {
            var json = JsonNode.Parse(File.ReadAllText(path))!;
            var input = json["input"]!;
            return new BottlenecksManifest(
                json["backbone"]!.GetValue<string>(),
                new InputSpec(input["channels"]!.GetValue<int>(), input["size"]!.GetValue<int>(),
                    [.. input["mean"]!.AsArray().Select(m => m!.GetValue<float>())], [.. input["std"]!.AsArray().Select(s => s!.GetValue<float>())]),
                json["dimension"]!.GetValue<int>(),
                json["splits"]!.AsObject().ToDictionary(s => s.Key, s => s.Value!.GetValue<int>()));
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new PipelineException($"cannot read the bottlenecks' manifest ({e.Message}); rebuild with --target=Bottlenecks --force", path, e);
        }
    }
}
