using Pipeline.Core.Onnx;
using Pipeline.Core.Onnx.Proto;
using Pipeline.Serving.Export;
using static TorchSharp.torch;

namespace Pipeline.Training.Transfer;

/// <summary>
/// A transferred model as one ONNX graph: the ImageNet ResNet-18's preprocessing and backbone (carried over from the
/// package's files) then the trained head (Gemm) and Softmax. It reads and answers what every export does, so
/// SmokePredict, `pipeline predict` and `pipeline serve` take it like any other.
/// </summary>
internal static class TransferExporter
{
    public static ModelProto Export(nn.Module head, int classes, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        var state = head.state_dict();
        var weight = state["weight"];
        var bias = state["bias"];
        if (weight.shape is not [var rows, ImageNetResNet18.BottleneckSize] || rows != classes || bias.shape is not [var b] || b != classes)
        {
            throw new ArgumentException($"the head is [{string.Join(", ", weight.shape)}] + [{string.Join(", ", bias.shape)}], not [{classes}, {ImageNetResNet18.BottleneckSize}] + [{classes}]", nameof(head));
        }
        var graph = new OnnxGraph(TransferHead.Architecture);
        var input = graph.Input(ModelCard.OnnxInput, "batch", 3, ImageNetResNet18.Size, ImageNetResNet18.Size);
        var bottleneck = ImageNetResNet18.AppendTo(graph, input, "bottleneck");
        var w = graph.Weight("head.weight", weight.contiguous().data<float>().ToArray(), classes, ImageNetResNet18.BottleneckSize);
        var c = graph.Weight("head.bias", bias.contiguous().data<float>().ToArray(), classes);
        var logits = graph.Node("Gemm", [bottleneck, w, c], "logits", OnnxGraph.Int("transB", 1));
        graph.Node("Softmax", [logits], ModelCard.OnnxOutput, OnnxGraph.Int("axis", 1));
        graph.Output(ModelCard.OnnxOutput, "batch", classes);
        return graph.ToModel("pipeline", typeof(TransferExporter).Assembly.GetName().Version?.ToString() ?? "0", metadata);
    }
}
