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

    /// <summary>
    /// Copies another model's graph in: its nodes and weights, every name prefixed, its inputs bound to values of this
    /// graph. Operators written for an older opset (7 and later) are carried to <see cref="Opset"/> where their meaning
    /// is unchanged, and rewritten where only their form changed (Split's sizes became an input; BatchNormalization lost
    /// "spatial"). Returns the prefixed names of the model's outputs, in order.
    /// </summary>
    /// <param name="inputs">For each of the model's inputs that is not a weight, the value of this graph that feeds it.</param>
    /// <exception cref="NotSupportedException">An operator this method does not know to carry over, or a graph-valued attribute.</exception>
    public IReadOnlyList<string> Append(ModelProto model, string prefix, IReadOnlyDictionary<string, string> inputs)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputs);
        var opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset is < 7 or > Opset || model.OpsetImport.Any(o => o.Domain is not ("" or "ai.onnx")))
        {
            throw new NotSupportedException($"the graph uses opset {opset}{(model.OpsetImport.Any(o => o.Domain is not ("" or "ai.onnx")) ? " and custom domains" : "")}; only ONNX opsets 7 to {Opset} can be carried over");
        }
        var graph = model.Graph;
        var weights = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var names = new Dictionary<string, string>(StringComparer.Ordinal) { [""] = "" }; // "" is an omitted optional input
        foreach (var input in graph.Input.Where(i => !weights.Contains(i.Name)))
        {
            names[input.Name] = inputs.TryGetValue(input.Name, out var bound)
                ? bound
                : throw new ArgumentException($"the graph's input \"{input.Name}\" is not bound to a value", nameof(inputs));
        }
        string Rename(string name)
        {
            if (!names.TryGetValue(name, out var renamed))
            {
                renamed = prefix + name;
                Claim(renamed);
                names[name] = renamed;
            }
            return renamed;
        }
        foreach (var weight in graph.Initializer)
        {
            var copy = weight.Clone();
            copy.Name = Rename(weight.Name);
            _graph.Initializer.Add(copy);
        }
        foreach (var node in graph.Node)
        {
            if (node.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0))
            {
                throw new NotSupportedException($"node {node.Name} ({node.OpType}) holds a subgraph; graphs with control flow cannot be carried over");
            }
            var copy = new NodeProto { OpType = node.OpType, Name = prefix + (node.Name.Length > 0 ? node.Name : $"{node.OpType}_{_nodes}"), Domain = node.Domain };
            _nodes++;
            copy.Input.AddRange(node.Input.Select(i => names.TryGetValue(i, out var known) ? known
                : throw new InvalidDataException($"node {node.Name} reads \"{i}\", which no earlier node, weight or input provides")));
            copy.Attribute.AddRange(node.Attribute.Select(a => a.Clone()));
            if (opset < Opset)
            {
                Upgrade(copy, node.Name, opset);
            }
            copy.Output.AddRange(node.Output.Select(o => o.Length == 0 ? "" : Rename(o)));
            _graph.Node.Add(copy);
        }
        return [.. graph.Output.Select(o => names.TryGetValue(o.Name, out var renamed) ? renamed
            : throw new InvalidDataException($"the graph's output \"{o.Name}\" is produced by no node"))];
    }

    /// <summary>
    /// The part of <paramref name="model"/> that computes <paramref name="value"/>: the nodes and weights it needs, the
    /// same inputs, and <paramref name="value"/> as the one output (float, <paramref name="dimensions"/>). Cutting a
    /// classifier before its last layer leaves its backbone.
    /// </summary>
    /// <exception cref="ArgumentException">No node of the graph produces <paramref name="value"/>.</exception>
    public static ModelProto UpTo(ModelProto model, string value, params object[] dimensions)
    {
        ArgumentNullException.ThrowIfNull(model);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in model.Graph.Node)
        {
            foreach (var output in node.Output)
            {
                producers[output] = node;
            }
        }
        if (!producers.ContainsKey(value))
        {
            throw new ArgumentException($"no node of the graph produces \"{value}\"", nameof(value));
        }
        var needed = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var values = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([value]);
        while (pending.TryPop(out var name))
        {
            if (!values.Add(name) || !producers.TryGetValue(name, out var node) || !needed.Add(node))
            {
                continue;
            }
            foreach (var input in node.Input)
            {
                pending.Push(input);
            }
        }
        var cut = model.Clone();
        var graph = cut.Graph;
        graph.Node.Clear();
        graph.Node.AddRange(model.Graph.Node.Where(needed.Contains).Select(n => n.Clone())); // original order: topological
        var weights = graph.Initializer.Where(t => values.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(weights);
        var inputs = graph.Input.Where(i => values.Contains(i.Name)).ToList();
        graph.Input.Clear();
        graph.Input.AddRange(inputs);
        graph.ValueInfo.Clear();
        graph.Output.Clear();
        graph.Output.Add(Value(value, dimensions));
        return cut;
    }

    /// <summary>Operators whose meaning is the same from opset 7 to <see cref="Opset"/> (later versions only added types or optional attributes with the old default).</summary>
    private static readonly HashSet<string> Unchanged = new(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Relu", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Concat", "Flatten", "Gemm", "Sum",
    };

    private void Upgrade(NodeProto node, string name, long opset)
    {
        switch (node.OpType)
        {
            case var op when Unchanged.Contains(op):
                return;
            case "BatchNormalization":
                // Opset 9 dropped "spatial" (1, per channel, is what remains) and is_test (inference is the default).
                if (node.Attribute.FirstOrDefault(a => a.Name == "spatial") is { } spatial && spatial.I != 1)
                {
                    throw new NotSupportedException($"node {name}: BatchNormalization with spatial = {spatial.I} has no form in opset {Opset}");
                }
                Remove(node, "spatial", "is_test", "consumed_inputs");
                return;
            case "Split" when opset < 13:
                // Opset 13 moved the sizes from an attribute to an input.
                if (node.Attribute.FirstOrDefault(a => a.Name == "split") is { } sizes)
                {
                    node.Input.Add(Int64s(node.Name + "/split", [.. sizes.Ints]));
                    Remove(node, "split");
                }
                return;
            default:
                throw new NotSupportedException($"node {name}: {node.OpType} from opset {opset} is not known to mean the same in opset {Opset}");
        }
    }

    private static void Remove(NodeProto node, params string[] attributes)
    {
        foreach (var attribute in node.Attribute.Where(a => attributes.Contains(a.Name)).ToList())
        {
            node.Attribute.Remove(attribute);
        }
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
