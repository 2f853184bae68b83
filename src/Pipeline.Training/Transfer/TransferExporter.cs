using Pipeline.Core.Onnx;
using Pipeline.Core.Onnx.Proto;
using Pipeline.Serving.Export;
using static TorchSharp.torch;

namespace Pipeline.Training.Transfer;

/// <summary>
/// A transferred model as one ONNX graph: the backbone (the ImageNet ResNet-18's preprocessing and network carried over
/// from the package's files, or another export cut before its classifier) then the trained head (Gemm) and Softmax. It reads and answers what every export does, so
/// SmokePredict, `pipeline predict` and `pipeline serve` take it like any other.
/// </summary>
internal static class TransferExporter
{
    public static ModelProto Export(OnnxBackbone backbone, nn.Module head, int classes, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        var state = head.state_dict();
        var weight = state["weight"];
        var bias = state["bias"];
        if (weight.shape is not [var rows, var columns] || rows != classes || columns != backbone.Dimension || bias.shape is not [var b] || b != classes)
        {
            throw new ArgumentException($"the head is [{string.Join(", ", weight.shape)}] + [{string.Join(", ", bias.shape)}], not [{classes}, {backbone.Dimension}] + [{classes}]", nameof(head));
        }
        var graph = new OnnxGraph(TransferHead.Architecture(backbone.Name));
        var input = graph.Input(ModelCard.OnnxInput, "batch", backbone.Input.Channels, backbone.Input.Size, backbone.Input.Size);
        var bottleneck = backbone.AppendTo(graph, input);
        var w = graph.Weight("head.weight", weight.contiguous().data<float>().ToArray(), classes, backbone.Dimension);
        var c = graph.Weight("head.bias", bias.contiguous().data<float>().ToArray(), classes);
        var logits = graph.Node("Gemm", [bottleneck, w, c], "logits", OnnxGraph.Int("transB", 1));
        graph.Node("Softmax", [logits], ModelCard.OnnxOutput, OnnxGraph.Int("axis", 1));
        graph.Output(ModelCard.OnnxOutput, "batch", classes);
        return graph.ToModel("pipeline", typeof(TransferExporter).Assembly.GetName().Version?.ToString() ?? "0", metadata);
    }
}
