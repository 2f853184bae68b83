using System.Text.Json;
using Pipeline.Core.Engine;

namespace Pipeline.Serving.Http;

/// <summary>
/// A predict (or classify) request body in TensorFlow Serving's and Cloud ML Engine's JSON forms: the row form
/// <c>{"instances": [{"image_bytes": {"b64": "..."}, "key": 7}, ...]}</c> (an instance may also be <c>{"b64": "..."}</c>
/// itself, and its optional "key" comes back with its prediction, as Cloud ML Engine's batch prediction does), the
/// columnar form <c>{"inputs": {"image_bytes": [{"b64": "..."}, ...], "key": [...]}}</c> or <c>{"inputs": [...]}</c>,
/// and for classify <c>{"examples": [...]}</c>; "signature_name", when given, must be "serving_default".
/// </summary>
public static class PredictRequest
{
    /// <summary>The one signature an export has, as TF Serving names its default.</summary>
    public const string Signature = "serving_default";

    /// <summary>What a request holds: each instance's image bytes and key (null without one), and whether it came columnar.</summary>
    public sealed record Parsed(IReadOnlyList<byte[]> Images, IReadOnlyList<JsonElement?> Keys, bool Columnar);

    /// <summary>Decodes the instances' image bytes.</summary>
    /// <exception cref="BadRequestException">The body is not such a request; the message names the field.</exception>
    public static IReadOnlyList<byte[]> Parse(ReadOnlyMemory<byte> body, int maxInstances, long maxImageBytes) => Read(body, maxInstances, maxImageBytes).Images;

    /// <summary>Reads a request in any of the forms above.</summary>
    /// <param name="rows">The field holding the instances in the row form: "instances" for predict, "examples" for classify.</param>
    /// <exception cref="BadRequestException">The body is not such a request; the message names the field.</exception>
    public static Parsed Read(ReadOnlyMemory<byte> body, int maxInstances, long maxImageBytes, string rows = "instances")
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new BadRequestException($"malformed JSON{(JsonErrors.Position(body.Span, e) is { } at ? $" at line {at.Line}, column {at.Column}" : "")}: {JsonErrors.WithoutPosition(e.Message)}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new BadRequestException($"the body is a JSON {Kind(root)}; send an object: {{\"{rows}\": [{{\"image_bytes\": {{\"b64\": \"...\"}}}}]}}");
            }
            if (root.TryGetProperty("signature_name", out var signature)
                && (signature.ValueKind != JsonValueKind.String || signature.GetString() is not (Signature or "")))
            {
                throw new BadRequestException($"signature_name {signature.GetRawText()} is not a signature of this model; its one signature is \"{Signature}\"");
            }
            var hasRows = root.TryGetProperty(rows, out var instances);
            var hasColumns = root.TryGetProperty("inputs", out var inputs);
            if (hasRows && hasColumns)
            {
                throw new BadRequestException($"the body has both \"{rows}\" (the row form) and \"inputs\" (the columnar form); send one of them");
            }
            if (!hasRows && !hasColumns)
            {
                throw new BadRequestException($"missing field \"{rows}\": send {{\"{rows}\": [{{\"image_bytes\": {{\"b64\": \"...\"}}}}]}} (or the columnar {{\"inputs\": ...}})");
            }
            var keys = new List<JsonElement?>();
            var images = new List<byte[]>();
            if (hasRows)
            {
                var index = 0;
                foreach (var instance in Items(instances, rows, maxInstances))
                {
                    var where = $"{rows}[{index++}]";
                    images.Add(Image(instance, where, maxImageBytes));
                    keys.Add(instance.ValueKind == JsonValueKind.Object && instance.TryGetProperty("key", out var key) ? Key(key, $"{where}.key") : null);
                }
                return new Parsed(images, keys, Columnar: false);
            }
            if (inputs.ValueKind == JsonValueKind.Array)
            {
                // One input, so its name may be left out: "inputs" is the list of its values.
                var index = 0;
                foreach (var value in Items(inputs, "inputs", maxInstances))
                {
                    images.Add(Image(value, $"inputs[{index++}]", maxImageBytes));
                    keys.Add(null);
                }
                return new Parsed(images, keys, Columnar: true);
            }
            if (inputs.ValueKind != JsonValueKind.Object)
            {
                throw new BadRequestException($"\"inputs\" is a JSON {Kind(inputs)}; send {{\"inputs\": {{\"image_bytes\": [{{\"b64\": \"...\"}}]}}}} or {{\"inputs\": [...]}}");
            }
            foreach (var input in inputs.EnumerateObject())
            {
                if (input.Name is not ("image_bytes" or "key"))
                {
                    throw new BadRequestException($"inputs has no input \"{input.Name}\": this model's inputs are \"image_bytes\" (and an optional \"key\")");
                }
            }
            if (!inputs.TryGetProperty("image_bytes", out var column))
            {
                throw new BadRequestException("inputs lacks \"image_bytes\": send {\"inputs\": {\"image_bytes\": [{\"b64\": \"...\"}]}}");
            }
            var position = 0;
            foreach (var value in Items(column, "inputs.image_bytes", maxInstances))
            {
                images.Add(Image(value, $"inputs.image_bytes[{position++}]", maxImageBytes));
            }
            if (inputs.TryGetProperty("key", out var keyColumn))
            {
                if (keyColumn.ValueKind != JsonValueKind.Array || keyColumn.GetArrayLength() != images.Count)
                {
                    throw new BadRequestException($"inputs.key must be a list of {images.Count} keys, one per image");
                }
                keys.AddRange(keyColumn.EnumerateArray().Select((k, i) => (JsonElement?)Key(k, $"inputs.key[{i}]")));
            }
            else
            {
                keys.AddRange(images.Select(_ => (JsonElement?)null));
            }
            return new Parsed(images, keys, Columnar: true);
        }
    }

    /// <summary>A list's items, refused when it is not a list, is empty or is longer than allowed.</summary>
    private static JsonElement.ArrayEnumerator Items(JsonElement list, string field, int maxInstances)
    {
        if (list.ValueKind != JsonValueKind.Array)
        {
            throw new BadRequestException($"\"{field}\" is a JSON {Kind(list)}; it must be a list of instances");
        }
        var count = list.GetArrayLength();
        if (count == 0)
        {
            throw new BadRequestException($"\"{field}\" is empty; send at least one image");
        }
        if (count > maxInstances)
        {
            throw new BadRequestException($"too many instances: {count}; at most {maxInstances} per request");
        }
        return list.EnumerateArray();
    }

    /// <summary>A key is a string or a number, returned as given; anything else is the client's mistake.</summary>
    private static JsonElement Key(JsonElement key, string field) => key.ValueKind is JsonValueKind.String or JsonValueKind.Number
        ? key.Clone()
        : throw new BadRequestException($"{field} is a JSON {Kind(key)}; a key is a string or a number");

    private static byte[] Image(JsonElement instance, string where, long maxImageBytes)
    {
        var field = $"{where}.image_bytes.b64";
        JsonElement b64;
        if (instance.ValueKind == JsonValueKind.Object && instance.TryGetProperty("image_bytes", out var imageBytes))
        {
            if (imageBytes.ValueKind != JsonValueKind.Object || !imageBytes.TryGetProperty("b64", out b64))
            {
                throw new BadRequestException($"{where}.image_bytes must be {{\"b64\": \"<base64 of the image file>\"}}");
            }
        }
        else if (instance.ValueKind == JsonValueKind.Object && instance.TryGetProperty("b64", out b64))
        {
            field = $"{where}.b64";
        }
        else
        {
            throw new BadRequestException($"{where} has no image: give {{\"image_bytes\": {{\"b64\": \"...\"}}}} or {{\"b64\": \"...\"}}");
        }
        if (b64.ValueKind != JsonValueKind.String)
        {
            throw new BadRequestException($"{field} is a JSON {Kind(b64)}; it must be a base64 string");
        }
        string text;
        try
        {
            text = b64.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new BadRequestException($"{field} is not valid UTF-8 text; it must be a base64 string");
        }
        if (text.Length == 0)
        {
            throw new BadRequestException($"{field} is empty; it must hold the base64 of an image file");
        }
        // Four characters carry three bytes; padding carries none, so an image of exactly the limit is not refused.
        var decodedLength = text.AsSpan().TrimEnd('=').Length * 3L / 4;
        if (decodedLength > maxImageBytes)
        {
            throw new BadRequestException($"{field}: the image is about {decodedLength:N0} bytes, more than the {maxImageBytes:N0} allowed per image");
        }
        // Standard base64, or the URL-safe alphabet some clients (urlsafe_b64encode) send, padded or not.
        var normalized = text.Replace('-', '+').Replace('_', '/');
        normalized = normalized.PadRight(normalized.Length + (4 - normalized.Length % 4) % 4, '=');
        var bytes = new byte[normalized.Length / 4 * 3];
        if (!Convert.TryFromBase64String(normalized, bytes, out var written))
        {
            throw new BadRequestException($"{field} is not valid base64");
        }
        return bytes[..written];
    }

    private static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };
}
