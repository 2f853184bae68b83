using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;

namespace Pipeline.Serving.Export;

/// <summary>
/// model.json of an exported version: what the model is, what it reads, what it answers, how good it was, and what
/// it was built from. Everything a server needs besides the ONNX graph and the labels; no training code reads it.
/// </summary>
/// <param name="Dataset">The dataset the model was trained on.</param>
/// <param name="Architecture">"cnn", "resnet18", …</param>
/// <param name="Classes">Class names; a prediction's class id is an index into this list (and into labels.txt).</param>
/// <param name="Input">Channels, size and normalization the graph's input expects.</param>
/// <param name="Metrics">The evaluated metrics the export was gated on: accuracy, top-5 accuracy, loss, examples, split.</param>
/// <param name="Lineage">Fingerprints of the stages (and the checkpoint) it was built from.</param>
/// <param name="Flip">The graph averages each image's logits with its mirror image's (inference.flip); the weights alone do not.</param>
public sealed record ModelCard(
    string Dataset,
    string Architecture,
    IReadOnlyList<string> Classes,
    InputSpec Input,
    JsonObject Metrics,
    JsonObject Lineage,
    bool Flip = false)
{
    /// <summary>Names this layout; a reader refuses a card of another format rather than guess.</summary>
    public const string Format = "pipeline-export/1";
    public const string FileName = "model.json";
    public const string OnnxFile = "model.onnx";
    public const string WeightsFile = "model.safetensors";
    public const string LabelsFile = "labels.txt";
    public const string OnnxInput = "input";
    public const string OnnxOutput = "probabilities";

    public JsonObject ToJson()
    {
        var json = Body();
        if (Flip)
        {
            // Written only when set, so that a card without it reads as before.
            json["inference"] = new JsonObject
            {
                ["flip"] = true,
                ["note"] = "model.onnx averages the logits of each image and of its mirror image (left-right) before the softmax; "
                    + "the weights alone, run on the image, answer without that average",
            };
        }
        return json;
    }

    private JsonObject Body() => new()
    {
        ["format"] = Format,
        ["dataset"] = Dataset,
        ["architecture"] = Architecture,
        ["classes"] = new JsonArray([.. Classes.Select(c => JsonValue.Create(c))]),
        ["input"] = new JsonObject
        {
            ["channels"] = Input.Channels,
            ["size"] = Input.Size,
            ["mean"] = new JsonArray([.. Input.Mean.Select(m => JsonValue.Create(Shortest(m)))]),
            ["std"] = new JsonArray([.. Input.Std.Select(s => JsonValue.Create(Shortest(s)))]),
            ["preprocessing"] = "decode; convert to the channels above; resize to size×size (bilinear, stretched); "
                + "value = (pixel / 255 − mean) / std per channel; layout NCHW float32",
        },
        ["signature"] = new JsonObject
        {
            ["inputs"] = new JsonObject { ["image_bytes"] = "an encoded image (JPEG, PNG, GIF, BMP, TIFF, WebP), base64 in JSON requests" },
            ["outputs"] = new JsonObject
            {
                ["classes"] = "the predicted class id: a 0-based index into classes and labels.txt",
                ["label"] = "the predicted class name",
                ["probabilities"] = "one probability per class, in the order of classes; they sum to 1",
            },
        },
        ["files"] = new JsonObject
        {
            ["onnx"] = new JsonObject { ["file"] = OnnxFile, ["input"] = OnnxInput, ["output"] = OnnxOutput, ["opset"] = Core.Onnx.OnnxGraph.Opset },
            ["weights"] = new JsonObject { ["file"] = WeightsFile, ["format"] = "safetensors", ["layout"] = WeightsLayout(Architecture) },
            ["labels"] = LabelsFile,
        },
        ["metrics"] = Metrics.DeepClone(),
        ["lineage"] = Lineage.DeepClone(),
    };

    /// <summary>Reads and checks folder/model.json.</summary>
    /// <exception cref="PipelineException">Missing, unreadable, of another format, or inconsistent.</exception>
    public static ModelCard Read(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
        {
            throw new PipelineException($"no {FileName} here: not an exported model version (export with --target=Export)", folder);
        }
        JsonNode json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path)) ?? throw new JsonException("the file holds null");
        }
        catch (JsonException e)
        {
            throw new PipelineException($"not valid JSON ({e.Message})", path, e);
        }
        if (json is not JsonObject)
        {
            throw new PipelineException($"holds a JSON {json.GetValueKind().ToString().ToLowerInvariant()}, not a JSON object", path);
        }
        string Text(JsonNode? node, string field) => node is JsonValue value && value.TryGetValue<string>(out var text)
            ? text
            : throw new PipelineException($"field \"{field}\" is missing or not a string", path);
        int Number(JsonNode? node, string field) => node is JsonValue value && value.TryGetValue<int>(out var number)
            ? number
            : throw new PipelineException($"field \"{field}\" is missing or not an integer", path);
        float[] Floats(JsonNode? node, string field) => node is JsonArray array && array.All(v => v is JsonValue && v.GetValueKind() == JsonValueKind.Number)
            ? [.. array.Select(v => (float)v!.GetValue<double>())]
            : throw new PipelineException($"field \"{field}\" is missing or not a list of numbers", path);

        var format = Text(json["format"], "format");
        if (format != Format)
        {
            throw new PipelineException($"format is \"{format}\"; this version of pipeline reads \"{Format}\"", path);
        }
        var classes = json["classes"] is JsonArray list && list.All(c => c is JsonValue && c.GetValueKind() == JsonValueKind.String)
            ? list.Select(c => c!.GetValue<string>()).ToList()
            : throw new PipelineException("field \"classes\" is missing or not a list of names", path);
        var input = json["input"] as JsonObject ?? throw new PipelineException("field \"input\" is missing or not an object", path);
        var spec = new InputSpec(Number(input["channels"], "input.channels"), Number(input["size"], "input.size"),
            Floats(input["mean"], "input.mean"), Floats(input["std"], "input.std"));
        try
        {
            spec.Validate();
        }
        catch (ArgumentException e)
        {
            throw new PipelineException($"field \"input\": {e.Message}", path, e);
        }
        var flip = json["inference"] switch
        {
            null => false,
            JsonObject inference when inference["flip"] is JsonValue value && value.GetValueKind() is JsonValueKind.True or JsonValueKind.False => value.GetValue<bool>(),
            _ => throw new PipelineException("field \"inference\" is not an object with \"flip\": true or false", path),
        };
        return new ModelCard(
            Text(json["dataset"], "dataset"),
            Text(json["architecture"], "architecture"),
            classes,
            spec,
            json["metrics"] as JsonObject ?? [],
            json["lineage"] as JsonObject ?? [],
            flip);
    }

    /// <summary>The double a float was written as in dataset.json (0.286, not 0.28600001335144043).</summary>
    private static double Shortest(float value) => double.Parse(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);

    private static string WeightsLayout(string architecture) => architecture switch
    {
        "resnet8" or "resnet14" or "resnet20" => $"the state_dict of this pipeline's {architecture}, He et al.'s small ResNet (a 3x3 stem, three stages of "
            + "16, 32 and 64 channels, projection shortcuts), with TorchVision's parameter names (conv1, bn1, layer1-layer3, fc)",
        "vgg7" => "the state_dict of this pipeline's vgg7: five 3x3 convolutions without bias (conv1-conv5) of 24, 48, 48, 96 and 96 channels, each with "
            + "batch norm (bn1-bn5) and ReLU, 2x2 max pooling after conv1 and conv3, flattened, then fc1 (256 units, ReLU) and fc2",
        _ when architecture.StartsWith("resnet", StringComparison.Ordinal) => $"the state_dict of torchvision.models.{architecture}(num_classes=len(classes))",
        "imagenet-resnet18+linear" => "the trained head only: the state_dict of torch.nn.Linear(512, len(classes)) over the 512-value bottleneck of the "
            + "ImageNet ResNet-18 in the NuGet package microsoft.ml.dnnimagefeaturizer.resnet18 0.23.1; model.onnx holds the whole model",
        _ when architecture.EndsWith("+linear", StringComparison.Ordinal) => $"the trained head only: the state_dict of torch.nn.Linear(bottleneck size, len(classes)) "
            + $"over the bottleneck of {architecture[..^"+linear".Length]} (that export cut before its classifier); model.onnx holds the whole model",
        _ => "the state_dict of this pipeline's cnn (conv1, bn1, conv2, bn2, fc1, fc2)",
    };
}
