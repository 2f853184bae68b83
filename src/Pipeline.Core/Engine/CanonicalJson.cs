using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pipeline.Core.Engine;

/// <summary>JSON with sorted keys, invariant numbers and no null members, so equal values always give equal bytes.</summary>
public static class CanonicalJson
{
    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonWriterOptions Indented = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true };

    public static string Serialize(JsonNode? node, bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, indented ? Indented : Compact))
        {
            Write(writer, node);
        }
        var text = Encoding.UTF8.GetString(buffer.ToArray());
        return indented ? text.ReplaceLineEndings("\n") + "\n" : text;
    }

    private static void Write(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject obj:
                writer.WriteStartObject();
                // A null member means "the default", the same as leaving it out: a new optional parameter must
                // not make every stage that reads its section stale.
                foreach (var (key, value) in obj.Where(p => !IsNull(p.Value)).OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(key);
                    Write(writer, value);
                }
                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    Write(writer, item);
                }
                writer.WriteEndArray();
                break;
            case JsonValue value:
                WriteValue(writer, value);
                break;
        }
    }

    private static bool IsNull(JsonNode? node) => node is null || node.GetValueKind() == JsonValueKind.Null;

    private static void WriteValue(Utf8JsonWriter writer, JsonValue value)
    {
        var element = value.GetValueKind();
        if (element == JsonValueKind.Number && value.TryGetValue<double>(out var number))
        {
            // One spelling per number: 1, 1.0 and 1e0 must fingerprint alike. Indented output writes it as a number
            // (the shortest text that reads back as the same double): a raw value would lose its indentation in arrays.
            if (writer.Options.Indented && double.IsFinite(number))
            {
                writer.WriteNumberValue(number);
            }
            else
            {
                writer.WriteRawValue(number.ToString("R", CultureInfo.InvariantCulture));
            }
            return;
        }
        value.WriteTo(writer);
    }

    /// <summary>Flattens a JSON value into dotted paths ("records.shards.train" → "4") for change reports.</summary>
    public static SortedDictionary<string, string> Flatten(JsonNode? node, string prefix)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        FlattenInto(result, node, prefix);
        return result;
    }

    private static void FlattenInto(SortedDictionary<string, string> result, JsonNode? node, string path)
    {
        if (node is JsonObject obj)
        {
            // An empty object adds no paths, so {} and an absent section read alike ("records.shards.train set to 2").
            foreach (var (key, value) in obj.Where(p => !IsNull(p.Value)))
            {
                FlattenInto(result, value, path.Length == 0 ? key : $"{path}.{key}");
            }
            return;
        }
        result[path] = Serialize(node);
    }
}
