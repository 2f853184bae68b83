using System.Text.Json;
using Pipeline.Core.Engine;

namespace Pipeline.Serving.Http;

/// <summary>
/// A predict request body in TensorFlow Serving's and Cloud ML Engine's JSON form:
/// <c>{"instances": [{"image_bytes": {"b64": "..."}}, ...]}</c>, or instances that are <c>{"b64": "..."}</c> themselves.
/// </summary>
public static class PredictRequest
{
    /// <summary>Decodes the instances' image bytes.</summary>
    /// <exception cref="BadRequestException">The body is not such a request; the message names the field.</exception>
    public static IReadOnlyList<byte[]> Parse(ReadOnlyMemory<byte> body, int maxInstances, long maxImageBytes)
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
                throw new BadRequestException($"the body is a JSON {Kind(root)}; send an object: {{\"instances\": [{{\"image_bytes\": {{\"b64\": \"...\"}}}}]}}");
            }
            if (!root.TryGetProperty("instances", out var instances))
            {
                throw new BadRequestException("missing field \"instances\": send {\"instances\": [{\"image_bytes\": {\"b64\": \"...\"}}]}");
            }
            if (instances.ValueKind != JsonValueKind.Array)
            {
                throw new BadRequestException($"\"instances\" is a JSON {Kind(instances)}; it must be a list of instances");
            }
            var count = instances.GetArrayLength();
            if (count == 0)
            {
                throw new BadRequestException("\"instances\" is empty; send at least one image");
            }
            if (count > maxInstances)
            {
                throw new BadRequestException($"too many instances: {count}; at most {maxInstances} per request");
            }
            var images = new List<byte[]>(count);
            var index = 0;
            foreach (var instance in instances.EnumerateArray())
            {
                images.Add(Image(instance, $"instances[{index++}]", maxImageBytes));
            }
            return images;
        }
    }

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
