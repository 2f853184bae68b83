using static TorchSharp.torch;

namespace Pipeline.Training.Models;

/// <summary>How a trained network answers outside training: alone, or averaged with its answer on the mirror image (inference.flip).</summary>
public static class Inference
{
    /// <summary>
    /// The logits for <paramref name="images"/> [batch, C, H, W]; with <paramref name="flip"/>, the mean of the network's
    /// logits on each image and on it mirrored left-right, computed as one batch of both, as the exported graph does.
    /// </summary>
    public static Tensor Logits(nn.Module<Tensor, Tensor> model, Tensor images, bool flip)
    {
        if (!flip)
        {
            return model.forward(images);
        }
        using var scope = NewDisposeScope();
        var batch = images.shape[0];
        var both = model.forward(cat([images, images.flip(3)], 0));
        return both.view(2, batch, -1).mean([0]).MoveToOuterDisposeScope();
    }
}
