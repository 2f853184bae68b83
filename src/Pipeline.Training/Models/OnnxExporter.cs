using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Onnx;
using Pipeline.Core.Onnx.Proto;
using Pipeline.Serving.Export;
using static TorchSharp.torch;

namespace Pipeline.Training.Models;

/// <summary>
/// Writes our architectures as ONNX graphs from their weights alone (the state dict), layer for layer as their
/// forward methods compute in evaluation mode: dropout is the identity, batch norm uses its running statistics.
/// The graph reads "input" [batch, C, S, S] (normalized as the model card says) and answers "probabilities"
/// [batch, classes], the softmax of the logits.
/// </summary>
internal sealed class OnnxExporter
{
    private const float BatchNormEpsilon = 1e-5f;

    private readonly IReadOnlyDictionary<string, Tensor> _weights;
    private readonly OnnxGraph _graph;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private int _values;

    private OnnxExporter(IReadOnlyDictionary<string, Tensor> weights, string name)
    {
        _weights = weights;
        _graph = new OnnxGraph(name);
    }

    /// <param name="architecture">One of <see cref="Architectures.Names"/>.</param>
    /// <param name="weights">The model's state dict, by TorchSharp's (and TorchVision's) parameter names.</param>
    /// <param name="metadata">Written into the model's metadata_props (dataset, classes, lineage).</param>
    /// <param name="flip">
    /// inference.flip: the network runs once on the batch and its mirror images side by side (Concat of the input and
    /// its Slice with step −1 along the width), and the two halves' logits are averaged before the softmax.
    /// </param>
    /// <exception cref="PipelineException">A weight the architecture needs is missing, or one is left over.</exception>
    public static ModelProto Export(string architecture, IReadOnlyDictionary<string, Tensor> weights, InputSpec input, int classes,
        IEnumerable<KeyValuePair<string, string>> metadata, bool flip = false)
    {
        var exporter = new OnnxExporter(weights, architecture);
        var graph = exporter._graph;
        var x = graph.Input(ModelCard.OnnxInput, "batch", input.Channels, input.Size, input.Size);
        if (flip)
        {
            var mirrored = graph.Node("Slice", [x, graph.Int64s("flip_starts", -1), graph.Int64s("flip_ends", long.MinValue),
                graph.Int64s("flip_axes", 3), graph.Int64s("flip_steps", -1)], exporter.Next("mirror"));
            x = graph.Node("Concat", [x, mirrored], exporter.Next("both"), OnnxGraph.Int("axis", 0));
        }
        var logits = architecture switch
        {
            "cnn" => exporter.SmallCnn(x),
            "vgg7" => exporter.Vgg7(x),
            "resnet18" or "resnet34" or "resnet50" => exporter.ResNet(x, small: false),
            "resnet8" or "resnet14" or "resnet20" => exporter.ResNet(x, small: true),
            _ => throw new PipelineException($"cannot export architecture \"{architecture}\" to ONNX; supported: {string.Join(", ", Architectures.Names)}"),
        };
        if (flip)
        {
            // [2·batch, classes] → [2, batch, classes] → the mean of the two halves.
            var halves = graph.Node("Reshape", [logits, graph.Int64s("flip_halves", 2, -1, classes)], exporter.Next("halves"));
            logits = graph.Node("ReduceMean", [halves], exporter.Next("mean"), OnnxGraph.Ints("axes", 0), OnnxGraph.Int("keepdims", 0));
        }
        graph.Node("Softmax", [logits], ModelCard.OnnxOutput, OnnxGraph.Int("axis", 1));
        exporter._graph.Output(ModelCard.OnnxOutput, "batch", classes);
        exporter.CheckAllUsed();
        return exporter._graph.ToModel("pipeline", typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0", metadata);
    }

    /// <summary>SmallCnn.forward: two conv-bn-relu-pool blocks, then fc1-relu-fc2 (dropout is the identity here).</summary>
    private string SmallCnn(string x)
    {
        x = MaxPool(Relu(BatchNorm(Conv(x, "conv1", stride: 1), "bn1")), kernel: 2, stride: 2, pad: 0);
        x = MaxPool(Relu(BatchNorm(Conv(x, "conv2", stride: 1), "bn2")), kernel: 2, stride: 2, pad: 0);
        x = _graph.Node("Flatten", [x], Next("flatten"), OnnxGraph.Int("axis", 1));
        x = Relu(Linear(x, "fc1"));
        return Linear(x, "fc2");
    }

    /// <summary>Vgg7.forward: conv-bn-relu ×5 with max pooling after the first and third, then fc1-relu-fc2.</summary>
    private string Vgg7(string x)
    {
        string Block(string input, int n) => Relu(BatchNorm(Conv(input, $"conv{n}", stride: 1), $"bn{n}"));
        x = MaxPool(Block(x, 1), kernel: 2, stride: 2, pad: 0);
        x = MaxPool(Block(Block(x, 2), 3), kernel: 2, stride: 2, pad: 0);
        x = _graph.Node("Flatten", [Block(Block(x, 4), 5)], Next("flatten"), OnnxGraph.Int("axis", 1));
        return Linear(Relu(Linear(x, "fc1")), "fc2");
    }

    /// <summary>
    /// A ResNet: the stem, its layers of basic or bottleneck blocks (as many as the weights have), global average
    /// pooling, fc. TorchVision's stem is a 7×7 convolution of stride 2 and a max pooling; the small ResNets' a 3×3 of stride 1.
    /// </summary>
    private string ResNet(string x, bool small)
    {
        x = small
            ? Relu(BatchNorm(Conv(x, "conv1", stride: 1), "bn1"))
            : MaxPool(Relu(BatchNorm(Conv(x, "conv1", stride: 2), "bn1")), kernel: 3, stride: 2, pad: 1);
        var bottleneck = _weights.ContainsKey("layer1.0.conv3.weight");
        for (var layer = 1; layer <= 4; layer++)
        {
            for (var block = 0; _weights.ContainsKey($"layer{layer}.{block}.conv1.weight"); block++)
            {
                var prefix = $"layer{layer}.{block}";
                var stride = layer > 1 && block == 0 ? 2 : 1;
                string y;
                if (bottleneck)
                {
                    y = Relu(BatchNorm(Conv(x, $"{prefix}.conv1", stride: 1), $"{prefix}.bn1"));
                    y = Relu(BatchNorm(Conv(y, $"{prefix}.conv2", stride), $"{prefix}.bn2"));
                    y = BatchNorm(Conv(y, $"{prefix}.conv3", stride: 1), $"{prefix}.bn3");
                }
                else
                {
                    y = Relu(BatchNorm(Conv(x, $"{prefix}.conv1", stride), $"{prefix}.bn1"));
                    y = BatchNorm(Conv(y, $"{prefix}.conv2", stride: 1), $"{prefix}.bn2");
                }
                var identity = _weights.ContainsKey($"{prefix}.downsample.0.weight")
                    ? BatchNorm(Conv(x, $"{prefix}.downsample.0", stride), $"{prefix}.downsample.1")
                    : x;
                x = Relu(_graph.Node("Add", [y, identity], Next("add")));
            }
        }
        x = _graph.Node("GlobalAveragePool", [x], Next("pool"));
        x = _graph.Node("Flatten", [x], Next("flatten"), OnnxGraph.Int("axis", 1));
        return Linear(x, "fc");
    }

    /// <summary>A bias-free square convolution padded to keep "same" size at stride 1 (k / 2), as every conv here is.</summary>
    private string Conv(string x, string module, int stride)
    {
        var (weight, shape) = Weight($"{module}.weight");
        var kernel = shape[2];
        var pad = kernel / 2;
        return _graph.Node("Conv", [x, weight], Next(module),
            OnnxGraph.Ints("kernel_shape", kernel, kernel), OnnxGraph.Ints("strides", stride, stride), OnnxGraph.Ints("pads", pad, pad, pad, pad));
    }

    private string BatchNorm(string x, string module)
    {
        var scale = Weight($"{module}.weight").Name;
        var bias = Weight($"{module}.bias").Name;
        var mean = Weight($"{module}.running_mean").Name;
        var variance = Weight($"{module}.running_var").Name;
        _used.Add($"{module}.num_batches_tracked"); // training bookkeeping, not part of the function
        return _graph.Node("BatchNormalization", [x, scale, bias, mean, variance], Next(module), OnnxGraph.Float("epsilon", BatchNormEpsilon));
    }

    /// <summary>A Linear layer: y = x · Wᵀ + b.</summary>
    private string Linear(string x, string module) =>
        _graph.Node("Gemm", [x, Weight($"{module}.weight").Name, Weight($"{module}.bias").Name], Next(module), OnnxGraph.Int("transB", 1));

    private string Relu(string x) => _graph.Node("Relu", [x], Next("relu"));

    private string MaxPool(string x, int kernel, int stride, int pad) => _graph.Node("MaxPool", [x], Next("maxpool"),
        OnnxGraph.Ints("kernel_shape", kernel, kernel), OnnxGraph.Ints("strides", stride, stride), OnnxGraph.Ints("pads", pad, pad, pad, pad));

    private string Next(string what) => $"{what}_{_values++}";

    private (string Name, long[] Shape) Weight(string key)
    {
        if (!_weights.TryGetValue(key, out var tensor))
        {
            throw new PipelineException($"the model has no weight \"{key}\", which its architecture needs; the weights do not match the model card");
        }
        if (_used.Add(key))
        {
            using var values = tensor.detach().to(float32).contiguous();
            _graph.Weight(key, values.data<float>().ToArray(), tensor.shape);
        }
        return (key, tensor.shape);
    }

    private void CheckAllUsed()
    {
        var unused = _weights.Keys.Where(k => !_used.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (unused.Count > 0)
        {
            throw new PipelineException($"the ONNX graph leaves out weights the model has: {string.Join(", ", unused.Take(5))}"
                + (unused.Count > 5 ? $" and {unused.Count - 5} more" : "") + "; the exporter does not match the architecture");
        }
    }
}
