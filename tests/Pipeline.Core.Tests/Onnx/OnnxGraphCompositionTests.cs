using Pipeline.Core.Onnx;
using Pipeline.Core.Onnx.Proto;

namespace Pipeline.Core.Tests.Onnx;

/// <summary>
/// Joining another model's graph into ours, as a backbone is joined into a transferred model, and cutting a classifier
/// before its last layer. That ONNX Runtime runs the results and agrees with the originals is checked on real models
/// (Training tests).
/// </summary>
public sealed class OnnxGraphCompositionTests
{
    /// <summary>An opset-8 model: X → Split (sizes as an attribute) → BatchNormalization (spatial) on one half → Add the other.</summary>
    private static ModelProto OldModel(long spatial = 1, string op = "BatchNormalization")
    {
        var graph = new OnnxGraph("old");
        var x = graph.Input("X", 1, 2, 4, 4);
        foreach (var name in new[] { "scale", "bias", "mean", "var" })
        {
            graph.Weight(name, [1f], 1);
        }
        var model = graph.ToModel("test", "1");
        var g = model.Graph;
        var split = new NodeProto { OpType = "Split", Name = "split" };
        split.Input.Add(x);
        split.Output.AddRange(["a", "b"]);
        split.Attribute.Add(OnnxGraph.Int("axis", 1));
        split.Attribute.Add(OnnxGraph.Ints("split", 1, 1));
        var norm = new NodeProto { OpType = op, Name = "norm" };
        norm.Input.AddRange(["a", "scale", "bias", "mean", "var"]);
        norm.Output.Add("c");
        norm.Attribute.Add(OnnxGraph.Int("spatial", spatial));
        var add = new NodeProto { OpType = "Add", Name = "add" };
        add.Input.AddRange(["c", "b"]);
        add.Output.Add("Y");
        g.Node.AddRange([split, norm, add]);
        g.Output.Add(new ValueInfoProto { Name = "Y" });
        model.OpsetImport.Clear();
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 8 });
        return model;
    }

    [Fact]
    public void Names_are_prefixed_inputs_bound_and_old_operators_carried_to_our_opset()
    {
        var graph = new OnnxGraph("new");
        var input = graph.Input("image", "batch", 2, 4, 4);

        var outputs = graph.Append(OldModel(), "old/", new Dictionary<string, string> { ["X"] = input });

        Assert.Equal(["old/Y"], outputs);
        var model = graph.ToModel("test", "1");
        Assert.Equal(OnnxGraph.Opset, model.OpsetImport.Single().Version);
        var nodes = model.Graph.Node.ToDictionary(n => n.OpType);
        Assert.Equal(["image", "old/split/split"], nodes["Split"].Input);
        Assert.DoesNotContain(nodes["Split"].Attribute, a => a.Name == "split");
        var sizes = model.Graph.Initializer.Single(t => t.Name == "old/split/split");
        Assert.Equal([1L, 1L], sizes.Int64Data);
        Assert.Equal(["old/a", "old/scale", "old/bias", "old/mean", "old/var"], nodes["BatchNormalization"].Input);
        Assert.DoesNotContain(nodes["BatchNormalization"].Attribute, a => a.Name == "spatial");
        Assert.Equal(["old/c", "old/b"], nodes["Add"].Input);
        Assert.All(model.Graph.Node, n => Assert.StartsWith("old/", n.Name));
    }

    [Fact]
    public void An_unbound_input_is_named()
    {
        var graph = new OnnxGraph("new");

        var error = Assert.Throws<ArgumentException>(() => graph.Append(OldModel(), "old/", new Dictionary<string, string>()));

        Assert.Contains("the graph's input \"X\" is not bound", error.Message);
    }

    [Fact]
    public void An_operator_not_known_to_mean_the_same_in_our_opset_is_refused()
    {
        var graph = new OnnxGraph("new");
        var input = graph.Input("image", "batch", 2, 4, 4);

        var error = Assert.Throws<NotSupportedException>(() => graph.Append(OldModel(op: "Upsample"), "old/", new Dictionary<string, string> { ["X"] = input }));

        Assert.Contains("node norm: Upsample from opset 8 is not known to mean the same in opset 17", error.Message);
    }

    [Fact]
    public void Per_activation_batch_normalization_has_no_later_form_and_is_refused()
    {
        var graph = new OnnxGraph("new");
        var input = graph.Input("image", "batch", 2, 4, 4);

        var error = Assert.Throws<NotSupportedException>(() => graph.Append(OldModel(spatial: 0), "old/", new Dictionary<string, string> { ["X"] = input }));

        Assert.Contains("spatial = 0", error.Message);
    }

    [Fact]
    public void Up_to_a_value_keeps_only_the_nodes_and_weights_that_compute_it()
    {
        var graph = new OnnxGraph("classifier");
        var x = graph.Input("input", "batch", 4);
        var w1 = graph.Weight("w1", new float[16], 4, 4);
        var hidden = graph.Node("Relu", [graph.Node("Gemm", [x, w1], "h0", OnnxGraph.Int("transB", 1))], "features");
        var w2 = graph.Weight("w2", new float[8], 2, 4);
        var logits = graph.Node("Gemm", [hidden, w2], "logits", OnnxGraph.Int("transB", 1));
        graph.Node("Softmax", [logits], "probabilities", OnnxGraph.Int("axis", 1));
        graph.Output("probabilities", "batch", 2);
        var model = graph.ToModel("test", "1");

        var backbone = OnnxGraph.UpTo(model, "features", "batch", 4);

        Assert.Equal(["Gemm", "Relu"], backbone.Graph.Node.Select(n => n.OpType));
        Assert.Equal(["w1"], backbone.Graph.Initializer.Select(t => t.Name));
        Assert.Equal(["input"], backbone.Graph.Input.Select(i => i.Name));
        Assert.Equal("features", backbone.Graph.Output.Single().Name);
        Assert.Equal(4, model.Graph.Node.Count); // the original is left whole
        Assert.Throws<ArgumentException>(() => OnnxGraph.UpTo(model, "nowhere"));
    }
}
