using Pipeline.Training.Train;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Transfer;

/// <summary>
/// The layer transfer learning trains: logits = bottleneck · Wᵀ + b, a torch.nn.Linear(bottleneck size, classes), as
/// retrain.py's final_training_ops (weights drawn from a normal of deviation 0.001 truncated at two deviations,
/// biases zero). Saved in TorchSharp's format as train/model.bin; exported as safetensors "weight" and "bias".
/// </summary>
public static class TransferHead
{
    private const string Suffix = "+linear";

    /// <summary>The architecture a transferred model's card names: the backbone it reads bottlenecks from (transfer.from), plus this head.</summary>
    public static string Architecture(string backbone) => backbone + Suffix;

    public static bool IsTransfer(string architecture) => architecture.EndsWith(Suffix, StringComparison.Ordinal);

    /// <summary>A transferred model's card: it reads what the backbone reads, as its export is served.</summary>
    public static TrainedModel Card(BottlenecksManifest bottlenecks, IReadOnlyList<string> classes, int steps, string lineage)
    {
        var input = bottlenecks.Input;
        return new TrainedModel(Architecture(bottlenecks.Backbone), classes, input.Channels, input.Size, [.. input.Mean.Select(m => (double)m)],
            [.. input.Std.Select(s => (double)s)], steps, lineage);
    }

    /// <summary>A new head; draws its weights from TorchSharp's generator (seed it first).</summary>
    public static TorchSharp.Modules.Linear Create(int dimension, int classes)
    {
        var head = nn.Linear(dimension, classes);
        using var noGrad = torch.no_grad();
        nn.init.trunc_normal_(head.weight, mean: 0, std: 0.001, a: -0.002, b: 0.002);
        nn.init.zeros_(head.bias!);
        return head;
    }

    public static TorchSharp.Modules.Linear Load(string weights, int dimension, int classes)
    {
        var head = nn.Linear(dimension, classes);
        head.load(weights);
        head.eval();
        return head;
    }

    /// <summary>
    /// <paramref name="count"/> bottlenecks laid one after another, as a tensor in torch's own (aligned) memory. A tensor
    /// made by torch.tensor over a managed array is that array, wherever the garbage collector put it, and MKL's matrix
    /// product takes a different path, rounding differently, for each alignment: the head's weights came out different
    /// in their last bits from run to run.
    /// </summary>
    public static Tensor Bottlenecks(float[] bottlenecks, int count)
    {
        using var wrapped = torch.tensor(bottlenecks, [count, bottlenecks.Length / count]);
        return wrapped.clone();
    }

    /// <summary>Softmax of the head's logits for <paramref name="count"/> bottlenecks laid one after another.</summary>
    public static float[] Probabilities(nn.Module<Tensor, Tensor> head, float[] bottlenecks, int count)
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var x = Bottlenecks(bottlenecks, count);
        return nn.functional.softmax(head.forward(x), 1).contiguous().data<float>().ToArray();
    }
}
