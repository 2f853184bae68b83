using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Core.Images;
using Pipeline.Core.Onnx;
using Pipeline.Core.Onnx.Proto;

namespace Pipeline.Training.Transfer;

/// <summary>
/// A frozen network as one ONNX graph: an image ([batch, C, S, S], prepared as <see cref="Input"/> says) in, its
/// bottleneck ([batch, <see cref="Dimension"/>]) out. Run by ONNX Runtime to compute bottlenecks, and appended to the
/// trained head's graph to export the whole model, so both are the same computation. Thread-safe.
/// </summary>
public sealed class OnnxBackbone : IDisposable
{
    private const string InputName = "image";
    private const string OutputName = "bottleneck";

    private readonly ModelProto _model;
    private readonly int _threads;
    private readonly Lazy<InferenceSession> _session;

    /// <param name="build">Appends the backbone to a graph, reading the given value, and returns its bottleneck's name.</param>
    internal OnnxBackbone(string name, InputSpec input, int dimension, Func<OnnxGraph, string, string> build, int threads)
    {
        Name = name;
        Input = input;
        Dimension = dimension;
        _threads = threads;
        var graph = new OnnxGraph(name);
        var image = graph.Input(InputName, "batch", input.Channels, input.Size, input.Size);
        graph.Node("Identity", [build(graph, image)], OutputName);
        graph.Output(OutputName, "batch", dimension);
        _model = graph.ToModel("pipeline", name);
        _session = new Lazy<InferenceSession>(() =>
        {
            using var options = new SessionOptions { IntraOpNumThreads = _threads, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            return new InferenceSession(_model.ToByteArray(), options);
        });
    }

    /// <summary>What transfer.from calls it.</summary>
    public string Name { get; }

    /// <summary>What it reads: channels, size and normalization; a transferred model's export reads the same.</summary>
    public InputSpec Input { get; }

    /// <summary>Values per bottleneck.</summary>
    public int Dimension { get; }

    /// <summary>Appends the backbone to <paramref name="graph"/>, reading <paramref name="input"/>; returns the bottleneck's name.</summary>
    public string AppendTo(OnnxGraph graph, string input) =>
        graph.Append(_model, Name + "/", new Dictionary<string, string> { [InputName] = input })[0];

    /// <summary>The bottleneck of one image: <see cref="InputSpec.ValuesPerImage"/> floats, CHW.</summary>
    public float[] Bottleneck(float[] image) => Bottlenecks(image, 1);

    /// <summary>The bottlenecks of <paramref name="count"/> images laid one after another.</summary>
    public float[] Bottlenecks(float[] images, int count)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (count < 1 || images.Length != count * Input.ValuesPerImage)
        {
            throw new ArgumentException($"{images.Length} values for {count} image(s); the backbone reads {Input.ValuesPerImage} ({Input.Channels} × {Input.Size} × {Input.Size}) each", nameof(images));
        }
        long[] shape = [count, Input.Channels, Input.Size, Input.Size];
        using var runOptions = new RunOptions();
        using var input = OrtValue.CreateTensorValueFromMemory(images, shape);
        using var features = _session.Value.Run(runOptions, [InputName], [input], [OutputName]);
        return features[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose()
    {
        if (_session.IsValueCreated)
        {
            _session.Value.Dispose();
        }
    }
}
