using System.Text.Json;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Serving.Prediction;

namespace Pipeline.Serving.Http;

/// <summary>
/// A predict (or classify) request body in TensorFlow Serving's and Cloud ML Engine's JSON forms: the row form
/// <c>{"instances": [{"image_bytes": {"b64": "..."}, "key": 7}, ...]}</c> (an instance may also be <c>{"b64": "..."}</c>
/// itself, and its optional "key" comes back with its prediction, as Cloud ML Engine's batch prediction does), the
/// columnar form <c>{"inputs": {"image_bytes": [{"b64": "..."}, ...], "key": [...]}}</c> or <c>{"inputs": [...]}</c>,
/// and for classify <c>{"examples": [...]}</c>; "signature_name", when given, must be "serving_default".
/// Instead of an image an instance may be the model's input tensor, named "input" as in the ONNX graph: nested lists
/// of shape [channels, size, size] of normalized floats (<c>{"instances": [[[[0.1, ...]]]]}</c>,
/// <c>{"instances": [{"input": [...], "key": 1}]}</c> or <c>{"inputs": {"input": [...]}}</c>).
/// </summary>
public static class PredictRequest
{
    /// <summary>The one signature an export has, as TF Serving names its default.</summary>
    public const string Signature = "serving_default";

    /// <summary>The signature's name for an instance given as the model's input tensor: the ONNX graph's input.</summary>
    public const string TensorInput = "input";

    /// <summary>What a request holds: each instance (an image or a tensor) and key (null without one), and whether it came columnar.</summary>
    public sealed record Parsed(IReadOnlyList<ModelInput> Instances, IReadOnlyList<JsonElement?> Keys, bool Columnar);

    /// <summary>Decodes the instances' image bytes.</summary>
    /// <exception cref="BadRequestException">The body is not such a request; the message names the field.</exception>
    public static IReadOnlyList<byte[]> Parse(ReadOnlyMemory<byte> body, int maxInstances, long maxImageBytes) =>
        [.. Read(body, maxInstances, maxImageBytes).Instances.Select(i => i.Image.ToArray())];

    /// <summary>Reads a request in any of the forms above.</summary>
    /// <param name="rows">The field holding the instances in the row form: "instances" for predict, "examples" for classify.</param>
    /// <param name="input">The model's input, whose shape a tensor instance must have; null refuses tensors.</param>
    /// <exception cref="BadRequestException">The body is not such a request; the message names the field.</exception>
    public static Parsed Read(ReadOnlyMemory<byte> body, int maxInstances, long maxImageBytes, string rows = "instances", InputSpec? input = null)
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
            var images = new List<ModelInput>();
            if (hasRows)
            {
                var index = 0;
                foreach (var instance in Items(instances, rows, maxInstances))
                {
                    var where = $"{rows}[{index++}]";
                    images.Add(Instance(instance, where, maxImageBytes, input));
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
                    images.Add(Instance(value, $"inputs[{index++}]", maxImageBytes, input));
                    keys.Add(null);
                }
                return new Parsed(images, keys, Columnar: true);
            }
            if (inputs.ValueKind != JsonValueKind.Object)
            {
                throw new BadRequestException($"\"inputs\" is a JSON {Kind(inputs)}; send {{\"inputs\": {{\"image_bytes\": [{{\"b64\": \"...\"}}]}}}} or {{\"inputs\": [...]}}");
            }
            foreach (var named in inputs.EnumerateObject())
            {
                if (named.Name is not ("image_bytes" or TensorInput or "key"))
                {
                    throw new BadRequestException($"inputs has no input \"{named.Name}\": this model's inputs are \"image_bytes\" or \"{TensorInput}\" (and an optional \"key\")");
                }
            }
            var hasImages = inputs.TryGetProperty("image_bytes", out var column);
            var hasTensors = inputs.TryGetProperty(TensorInput, out var tensorColumn);
            if (hasImages == hasTensors)
            {
                throw new BadRequestException(hasImages
                    ? $"inputs has both \"image_bytes\" and \"{TensorInput}\"; an instance is one or the other, so send one of them"
                    : $"inputs lacks \"image_bytes\": send {{\"inputs\": {{\"image_bytes\": [{{\"b64\": \"...\"}}]}}}} (or \"{TensorInput}\": the model's input tensors)");
            }
            var position = 0;
            var name = hasImages ? "image_bytes" : TensorInput;
            foreach (var value in Items(hasImages ? column : tensorColumn, $"inputs.{name}", maxInstances))
            {
                var where = $"inputs.{name}[{position++}]";
                images.Add(hasImages ? new ModelInput(where, Image(value, where, maxImageBytes)) : Tensor(value, where, input));
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

    /// <summary>A row form's instance: an image, given as an object, or a tensor, given as a list or as {"input": [...]}.</summary>
    private static ModelInput Instance(JsonElement instance, string where, long maxImageBytes, InputSpec? input)
    {
        if (instance.ValueKind == JsonValueKind.Array)
        {
            return Tensor(instance, where, input);
        }
        if (instance.ValueKind == JsonValueKind.Object && instance.TryGetProperty(TensorInput, out var tensor))
        {
            if (instance.TryGetProperty("image_bytes", out _) || instance.TryGetProperty("b64", out _))
            {
                throw new BadRequestException($"{where} has both an image and \"{TensorInput}\"; an instance is one or the other");
            }
            return Tensor(tensor, $"{where}.{TensorInput}", input);
        }
        return new ModelInput(where, Image(instance, where, maxImageBytes));
    }

    /// <summary>The model's input tensor for one instance: nested lists of exactly [channels, size, size] numbers.</summary>
    private static ModelInput Tensor(JsonElement value, string where, InputSpec? input)
    {
        if (input is null)
        {
            throw new BadRequestException($"{where} is a tensor; this endpoint takes images only: give {{\"image_bytes\": {{\"b64\": \"...\"}}}}");
        }
        int[] shape = [input.Channels, input.Size, input.Size];
        var values = new float[input.ValuesPerImage];
        var written = 0;
        Fill(value, where, 0);
        return ModelInput.Tensor(where, values);

        void Fill(JsonElement element, string path, int depth)
        {
            var expected = $"\"{TensorInput}\" is [channels, height, width] = [{string.Join(", ", shape)}] normalized floats";
            if (element.ValueKind != JsonValueKind.Array)
            {
                throw new BadRequestException($"{path} is a JSON {Kind(element)}, not a list; {expected}");
            }
            if (element.GetArrayLength() != shape[depth])
            {
                throw new BadRequestException($"{path} has {element.GetArrayLength()} items; it must have {shape[depth]} ({expected})");
            }
            var index = 0;
            foreach (var item in element.EnumerateArray())
            {
                var itemPath = $"{path}[{index++}]";
                if (depth < shape.Length - 1)
                {
                    Fill(item, itemPath, depth + 1);
                }
                else if (item.ValueKind != JsonValueKind.Number || !item.TryGetSingle(out var number) || !float.IsFinite(number))
                {
                    throw new BadRequestException($"{itemPath} is {(item.ValueKind == JsonValueKind.Number ? item.GetRawText() : "a JSON " + Kind(item))}, not a finite number; {expected}");
                }
                else
                {
                    values[written++] = number;
                }
            }
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
