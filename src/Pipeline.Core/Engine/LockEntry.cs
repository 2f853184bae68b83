using System.Text.Json.Nodes;

namespace Pipeline.Core.Engine;

/// <summary>One stage's record in the lock file: what it was built from and the hash of each output file.</summary>
public sealed record LockEntry(
    string Stage,
    string Fingerprint,
    int Implementation,
    JsonObject Parameters,
    IReadOnlyDictionary<string, string> Inputs,
    IReadOnlyDictionary<string, string> Outputs)
{
    public JsonObject ToJson() => new()
    {
        ["fingerprint"] = Fingerprint,
        ["implementation"] = Implementation,
        ["parameters"] = Parameters.DeepClone(),
        ["inputs"] = ToObject(Inputs),
        ["outputs"] = ToObject(Outputs),
    };

    public static LockEntry FromJson(string stage, JsonObject obj) => new(
        stage,
        obj["fingerprint"]?.GetValue<string>() ?? "",
        obj["implementation"]?.GetValue<int>() ?? 0,
        obj["parameters"] as JsonObject ?? new JsonObject(),
        FromObject(obj["inputs"]),
        FromObject(obj["outputs"]));

    private static JsonObject ToObject(IReadOnlyDictionary<string, string> map)
    {
        var obj = new JsonObject();
        foreach (var (key, value) in map.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            obj[key] = value;
        }
        return obj;
    }

    private static SortedDictionary<string, string> FromObject(JsonNode? node)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (node is JsonObject obj)
        {
            foreach (var (key, value) in obj)
            {
                map[key] = value?.GetValue<string>() ?? "";
            }
        }
        return map;
    }
}
