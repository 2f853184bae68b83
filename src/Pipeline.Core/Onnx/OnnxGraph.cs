using System.Runtime.InteropServices;
using Google.Protobuf;
using Pipeline.Core.Onnx.Proto;

namespace Pipeline.Core.Onnx;

/// <summary>
/// Builds an ONNX model node by node: named inputs and outputs, weights as initializers, operators with attributes.
/// The exporters for our architectures (and a transferred backbone's head) write their graphs through it.
/// </summary>
public sealed class OnnxGraph
{
    /// <summary>The ONNX operator set the graphs use (BatchNormalization, Softmax and Gemm as ONNX 1.12 defines them).</summary>
    public const long Opset = 17;

    /// <summary>ONNX IR version 8: what opset 17 is published with, and what ONNX Runtime 1.1x+ reads.</summary>
    public const long IrVersion = 8;

    private readonly GraphProto _graph;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _nodes;

    public OnnxGraph(string name) => _graph = new GraphProto { Name = name };

    /// <summary>Declares a float graph input; a dimension is a number, or a name for one fixed at run time ("batch").</summary>
    public string Input(string name, params object[] dimensions)
    {
        Claim(name);
        _graph.Input.Add(Value(name, dimensions));
        return name;
    }

    /// <summary>Declares <paramref name="name"/>, already produced by a node, as a float graph output.</summary>
    public void Output(string name, params object[] dimensions) => _graph.Output.Add(Value(name, dimensions));

    /// <summary>Adds a float weight tensor (row-major) and returns its name.</summary>
    public string Weight(string name, ReadOnlySpan<float> values, params long[] dimensions)
    {
        var count = dimensions.Aggregate(1L, (product, d) => product * d);
        if (count != values.Length)
        {
            throw new ArgumentException($"weight {name}: {values.Length} values for shape [{string.Join(", ", dimensions)}]", nameof(values));
        }
        Claim(name);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dimensions);
        // raw_data is little-endian IEEE 754, which is how .NET lays floats out on every platform it runs on here.
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        _graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>Adds a 64-bit integer constant (shapes, axes) and returns its name.</summary>
    public string Int64s(string name, params long[] values)
    {
        Claim(name);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        _graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>Adds an operator; returns the name of its (single) output.</summary>
    public string Node(string op, IEnumerable<string> inputs, string output, params AttributeProto[] attributes)
    {
        Claim(output);
        var node = new NodeProto { OpType = op, Name = $"{op}_{_nodes++}" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return output;
    }

    /// <summary>The finished model. Metadata pairs are written in the order given.</summary>
    public ModelProto ToModel(string producer, string producerVersion, IEnumerable<KeyValuePair<string, string>>? metadata = null)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = producer,
            ProducerVersion = producerVersion,
            Graph = _graph.Clone(),
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in metadata ?? [])
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }
        return model;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private void Claim(string name)
    {
        if (!_names.Add(name))
        {
            throw new ArgumentException($"the graph already has a value named \"{name}\"", nameof(name));
        }
    }

    private static ValueInfoProto Value(string name, object[] dimensions)
    {
        var shape = new TensorShapeProto();
        foreach (var dimension in dimensions)
        {
            shape.Dim.Add(dimension switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                int n => new TensorShapeProto.Types.Dimension { DimValue = n },
                long n => new TensorShapeProto.Types.Dimension { DimValue = n },
                _ => throw new ArgumentException($"dimension {dimension} of {name} is neither a number nor a name", nameof(dimensions)),
            });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
