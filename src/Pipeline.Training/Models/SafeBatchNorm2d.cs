using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Models;

/// <summary>
/// BatchNorm2d with TorchSharp's parameter and buffer names (so weights keep the standard layout), minus a crash:
/// TorchSharp 0.107's BatchNorm counts batches with num_batches_tracked.add_(1), which makes two temporary
/// Scalars that nothing keeps alive during the native call; the finalizer thread can free one mid-call, and
/// training dies at a random step ("For integral input tensors, argument alpha must not be a floating point
/// number"). Here the Scalar is held until the call returns.
/// </summary>
public sealed class SafeBatchNorm2d : TorchSharp.Modules.BatchNorm
{
    public SafeBatchNorm2d(long features, double eps = 1e-5, double momentum = 0.1)
        : base(features, eps, momentum, affine: true, track_running_stats: true, device: null, dtype: null, name: nameof(SafeBatchNorm2d))
    {
    }

    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        if (training && num_batches_tracked is not null)
        {
            using var one = 1L.ToScalar();
            num_batches_tracked.add_(one, one);
        }
        return nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training, momentum ?? 0.1, eps);
    }

    protected override void ValidateInputDimensions(Tensor input)
    {
        if (input.ndim != 4)
        {
            throw new ArgumentException($"expected a 4-D input (batch, channels, height, width), got {input.ndim}-D");
        }
    }
}
