using System.Buffers;
using Pipeline.Core.Images;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Input;

/// <summary>Decoded images and their labels, ready to become tensors; dispose it to return the pixel buffer.</summary>
public sealed class Batch : IDisposable
{
    private float[] _images;

    internal Batch(InputSpec spec, int count)
    {
        Spec = spec;
        Count = count;
        Labels = new long[count];
        _images = ArrayPool<float>.Shared.Rent(count * spec.ValuesPerImage);
    }

    /// <summary>The image shape and normalization the batch was decoded with.</summary>
    public InputSpec Spec { get; }

    /// <summary>Examples in the batch: the batch size, or fewer in the last evaluation batch.</summary>
    public int Count { get; }

    /// <summary>
    /// Count · Channels · Size · Size floats, each image CHW, from index 0; the array is rented from the shared
    /// pool and may be longer (use <see cref="ImageMemory"/> for exactly the batch). Empty after Dispose.
    /// </summary>
    public float[] Images => _images;

    /// <summary>The 0-based class index of each example: image/class/label − 1.</summary>
    public long[] Labels { get; }

    /// <summary>Exactly the batch's floats, shaped [Count, Channels, Size, Size]; valid until Dispose.</summary>
    public Memory<float> ImageMemory => _images.AsMemory(0, Count * Spec.ValuesPerImage);

    /// <summary>
    /// The batch as the model's input, [Count, Channels, Size, Size], and its labels, [Count]: what every loop over
    /// batches feeds the model. Create them inside a dispose scope; the batch must outlive them.
    /// </summary>
    public (Tensor Images, Tensor Labels) ToTensors() =>
        (torch.tensor(ImageMemory, [Count, Spec.Channels, Spec.Size, Spec.Size]), torch.tensor(Labels.AsMemory(0, Count), [Count]));

    /// <summary>The CHW floats of example <paramref name="index"/>.</summary>
    public Span<float> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return _images.AsSpan(index * Spec.ValuesPerImage, Spec.ValuesPerImage);
    }

    /// <summary>Returns the pixel buffer to the pool; the batch's images are gone afterwards.</summary>
    public void Dispose()
    {
        var images = Interlocked.Exchange(ref _images, []);
        if (images.Length > 0)
        {
            ArrayPool<float>.Shared.Return(images);
        }
    }
}
