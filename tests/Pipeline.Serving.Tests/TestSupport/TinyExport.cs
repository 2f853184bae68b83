using System.Text.Json.Nodes;
using Google.Protobuf;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Onnx;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;

namespace Pipeline.Serving.Tests.TestSupport;

/// <summary>
/// A real exported model version written in code, no training involved: a linear classifier over 4×4 grayscale images
/// whose fixed weights make dark images class 0, light images class 1 and images lit on their left half class 2.
/// </summary>
internal static class TinyExport
{
    public const int Size = 4;
    public const int Dark = 0;
    public const int Light = 1;
    public const int LeftLit = 2;

    public static readonly string[] Classes = ["dark", "light", "left-lit"];

    /// <summary>Pixels divided by 255 and nothing else: the weights are written for values in [0, 1].</summary>
    public static InputSpec Input => new(1, Size, [0f], [1f]);

    public static ModelCard Card(InputSpec? input = null, IReadOnlyList<string>? classes = null) => new(
        "tiny",
        "linear",
        classes ?? Classes,
        input ?? Input,
        new JsonObject { ["accuracy"] = 1.0, ["examples"] = 3, ["split"] = "test" },
        new JsonObject { ["train"] = "0123abcd" });

    /// <summary>Writes DIR/export/1 (model.onnx, labels.txt, model.json) and DIR/export/latest; returns the export folder.</summary>
    public static string Write(TempDirectory dir)
    {
        WriteVersion(dir.Combine("export/1"));
        dir.WriteText($"export/{ExportedModel.LatestPointer}", "1\n");
        return dir.Combine("export");
    }

    /// <summary>
    /// Writes a version folder: the tiny model, with other class names when given (so an answer tells which version
    /// gave it), or without its Softmax (a graph whose outputs are not probabilities, which a server must refuse).
    /// </summary>
    public static string WriteVersion(string folder, IReadOnlyList<string>? classes = null, bool softmax = true)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, ModelCard.OnnxFile), Onnx(softmax: softmax));
        File.WriteAllText(Path.Combine(folder, ModelCard.LabelsFile), string.Join("\n", classes ?? Classes) + "\n");
        WriteCard(folder, Card(classes: classes));
        return folder;
    }

    /// <summary>Writes model.json into a version folder, as the export stage does.</summary>
    public static void WriteCard(string versionFolder, ModelCard card) =>
        File.WriteAllText(Path.Combine(versionFolder, ModelCard.FileName), CanonicalJson.Serialize(card.ToJson(), indented: true));

    /// <summary>
    /// input [batch, channels, size, size] → Flatten → Gemm → Softmax → probabilities [batch, 3]. With n input values
    /// in [0, 1] summing to s, the logits are n/2 − s (dark), s − n/2 (light) and 2·(left half − right half) (left-lit).
    /// </summary>
    public static byte[] Onnx(int channels = 1, int size = Size, bool softmax = true)
    {
        var values = channels * size * size;
        var weights = new float[Classes.Length * values];
        for (var i = 0; i < values; i++)
        {
            weights[Dark * values + i] = -1;
            weights[Light * values + i] = 1;
            weights[LeftLit * values + i] = i % size < size / 2 ? 2 : -2;
        }
        float[] bias = [values / 2f, -values / 2f, 0];
        var graph = new OnnxGraph("tiny");
        var x = graph.Input(ModelCard.OnnxInput, "batch", channels, size, size);
        x = graph.Node("Flatten", [x], "flat", OnnxGraph.Int("axis", 1));
        x = graph.Node("Gemm", [x, graph.Weight("fc.weight", weights, Classes.Length, values), graph.Weight("fc.bias", bias, Classes.Length)],
            "logits", OnnxGraph.Int("transB", 1));
        if (softmax)
        {
            graph.Node("Softmax", [x], ModelCard.OnnxOutput, OnnxGraph.Int("axis", 1));
        }
        else
        {
            graph.Node("Identity", [x], ModelCard.OnnxOutput);
        }
        graph.Output(ModelCard.OnnxOutput, "batch", Classes.Length);
        return graph.ToModel("pipeline-tests", "1").ToByteArray();
    }
}
