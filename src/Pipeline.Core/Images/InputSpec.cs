using Pipeline.Core.Datasets;

namespace Pipeline.Core.Images;

/// <summary>What the model reads: Channels × Size × Size floats per image, normalized per channel.</summary>
/// <param name="Channels">1 (luminance) or 3 (RGB); every image is converted to it.</param>
/// <param name="Size">Images are resized (bilinear) to Size × Size pixels when they are not already.</param>
/// <param name="Mean">Per-channel mean of pixel values in [0, 1], subtracted; one value applies to every channel.</param>
/// <param name="Std">Per-channel standard deviation, divided by after the mean is subtracted; one value applies to every channel.</param>
public sealed record InputSpec(int Channels, int Size, float[] Mean, float[] Std)
{
    /// <summary>Floats one image occupies: Channels · Size · Size.</summary>
    public int ValuesPerImage => Channels * Size * Size;

    /// <summary>The input the train section of dataset.json asks for.</summary>
    public static InputSpec From(TrainParameters train)
    {
        ArgumentNullException.ThrowIfNull(train);
        return new InputSpec(
            train.Channels,
            train.InputSize,
            [.. train.Normalization.Mean.Select(m => (float)m)],
            [.. train.Normalization.Std.Select(s => (float)s)]);
    }

    /// <summary>The mean subtracted from channel <paramref name="channel"/>.</summary>
    public float MeanOf(int channel) => Mean[Mean.Length == 1 ? 0 : channel];

    /// <summary>The standard deviation channel <paramref name="channel"/> is divided by.</summary>
    public float StdOf(int channel) => Std[Std.Length == 1 ? 0 : channel];

    /// <summary>Equal when they read images the same way: the values of Mean and Std compare, not the arrays.</summary>
    public bool Equals(InputSpec? other) =>
        other is not null && Channels == other.Channels && Size == other.Size && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std);

    public override int GetHashCode() => HashCode.Combine(Channels, Size, Mean.Length > 0 ? Mean[0] : 0, Std.Length > 0 ? Std[0] : 0);

    /// <summary>"3×224×224, mean [0], std [0.003921569]": also what fingerprints and cache keys are built from.</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Channels}×{Size}×{Size}, mean [{string.Join(", ", Mean.Select(m => m.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}], std [{string.Join(", ", Std.Select(s => s.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}]");

    public void Validate()
    {
        if (Channels is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(Channels), Channels, "channels must be 1 (grayscale) or 3 (RGB)");
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Size);
        ArgumentNullException.ThrowIfNull(Mean);
        ArgumentNullException.ThrowIfNull(Std);
        if (Mean.Length != 1 && Mean.Length != Channels)
        {
            throw new ArgumentException($"{Mean.Length} mean values for {Channels} channels: give one per channel, or one for all", nameof(Mean));
        }
        if (Std.Length != 1 && Std.Length != Channels)
        {
            throw new ArgumentException($"{Std.Length} standard deviations for {Channels} channels: give one per channel, or one for all", nameof(Std));
        }
        if (Std.Any(s => !(s > 0) || float.IsInfinity(s)))
        {
            throw new ArgumentException($"standard deviations must be positive and finite, not [{string.Join(", ", Std)}]", nameof(Std));
        }
    }
}
