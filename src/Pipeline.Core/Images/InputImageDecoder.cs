using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Pipeline.Core.Images;

/// <summary>
/// Turns encoded image bytes into what a model reads: decoded, converted to the model's channels, resized to its
/// input size and normalized. Training (for images its fast PNG path does not take), evaluation and serving all
/// decode through here, so a served image is prepared exactly as the images the model learned from.
/// Not thread-safe: one per thread.
/// </summary>
/// <remarks>Images are untrusted: the header is read first and absurd sizes are refused before a full decode.</remarks>
public sealed class InputImageDecoder
{
    /// <summary>The largest image accepted by default: 50 megapixels, far beyond any photo a model is fed.</summary>
    public const long DefaultMaxPixels = 50_000_000;

    private readonly InputSpec _input;
    private readonly long _maxPixels;
    private readonly IReadOnlyList<string> _formats;
    private readonly Configuration _configuration;
    private readonly float[][] _levels;
    private readonly byte[] _pixels;

    /// <param name="formats">The formats it decodes (<see cref="ImageFormats"/>); others are refused by their signature, naming them. Default: all.</param>
    public InputImageDecoder(InputSpec input, long maxPixels = DefaultMaxPixels, IReadOnlyList<string>? formats = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        input.Validate();
        _input = input;
        _maxPixels = maxPixels;
        _formats = formats ?? ImageFormats.All;
        _configuration = UntrustedImages.For(_formats);
        _levels = NormalizedLevels(input);
        _pixels = new byte[input.Size * input.Size * input.Channels];
    }

    public InputSpec Input => _input;

    /// <summary>The pixels the last <see cref="DecodePixels"/> left: Size × Size × Channels bytes, HWC.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>Decodes <paramref name="encoded"/> into <paramref name="destination"/>: Channels · Size · Size normalized floats, CHW.</summary>
    /// <param name="name">What the image is called in an error: a file name, "instance 3".</param>
    /// <exception cref="BadImageException">Not an image we can read, corrupt, or too large.</exception>
    public void Decode(ReadOnlySpan<byte> encoded, Span<float> destination, string name)
    {
        if (destination.Length != _input.ValuesPerImage)
        {
            throw new ArgumentException($"destination holds {destination.Length} floats; the input needs {_input.ValuesPerImage}", nameof(destination));
        }
        var channels = DecodePixels(encoded, name);
        WriteNormalized(_pixels, channels, _input.Size, _levels, destination);
    }

    /// <summary>Width × height from the image's header, without decoding it: what decoding it will cost.</summary>
    /// <exception cref="BadImageException">Not an image we can read, or too large.</exception>
    public long HeaderPixels(ReadOnlySpan<byte> encoded, string name)
    {
        var info = ReadHeader(encoded.ToArray(), name);
        return (long)info.Width * info.Height;
    }

    /// <summary>Decodes into <see cref="Pixels"/> (converted to the input's channels and resized) and returns the channel count.</summary>
    /// <exception cref="BadImageException">Not an image we can read, corrupt, or too large.</exception>
    public int DecodePixels(ReadOnlySpan<byte> encoded, string name)
    {
        // ImageSharp 2.1 identifies and loads only arrays and streams.
        var bytes = encoded.ToArray();
        ReadHeader(bytes, name);
        if (UntrustedImages.Truncation(bytes) is { } truncation)
        {
            throw new BadImageException($"the image is {truncation}", name);
        }
        try
        {
            return LoadResized(bytes);
        }
        catch (Exception e) when (IsDecoderFailure(e))
        {
            throw new BadImageException($"the image cannot be decoded: {e.Message}", name, e);
        }
    }

    /// <summary>The header, once the bytes are known to be an image of an allowed size.</summary>
    private IImageInfo ReadHeader(byte[] bytes, string name)
    {
        if (bytes.Length == 0)
        {
            throw new BadImageException("empty, not an image", name);
        }
        if (UntrustedImages.Refusal(bytes) is { } refusal)
        {
            throw new BadImageException(refusal, name);
        }
        if (!ImageFormats.AreAll(_formats) && UntrustedImages.FormatRefusal(bytes, _formats) is { } format)
        {
            throw new BadImageException(format, name);
        }
        IImageInfo? info;
        try
        {
            info = Image.Identify(_configuration, new MemoryStream(bytes, writable: false));
        }
        catch (Exception e) when (IsDecoderFailure(e))
        {
            throw new BadImageException($"corrupt image: {e.Message}", name, e);
        }
        if (info is null)
        {
            throw new BadImageException($"not an image in a format we can read ({string.Join(", ", _formats)})", name);
        }
        if (info.Width <= 0 || info.Height <= 0 || (long)info.Width * info.Height > _maxPixels)
        {
            throw new BadImageException($"image too large: {info.Width}×{info.Height} is more than the {_maxPixels:N0} pixels allowed; refused before decoding", name);
        }
        return info;
    }

    /// <summary>Per channel, the normalized value of each 8-bit level: (level / 255 − mean) / std.</summary>
    public static float[][] NormalizedLevels(InputSpec input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var levels = new float[input.Channels][];
        for (var c = 0; c < input.Channels; c++)
        {
            levels[c] = new float[256];
            for (var level = 0; level < 256; level++)
            {
                levels[c][level] = (level / 255f - input.MeanOf(c)) / input.StdOf(c);
            }
        }
        return levels;
    }

    /// <summary>Writes Size × Size HWC pixels (1 or 3 channels) as normalized CHW floats; a 1-channel source fills every channel.</summary>
    public static void WriteNormalized(ReadOnlySpan<byte> pixels, int sourceChannels, int size, float[][] levels, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(levels);
        var plane = size * size;
        for (var c = 0; c < levels.Length; c++)
        {
            var level = levels[c];
            var from = sourceChannels == 1 ? 0 : c;
            var output = destination.Slice(c * plane, plane);
            for (var i = 0; i < plane; i++)
            {
                output[i] = level[pixels[i * sourceChannels + from]];
            }
        }
    }

    private int LoadResized(byte[] encoded)
    {
        var size = _input.Size;
        if (_input.Channels == 1)
        {
            using var gray = Image.Load<L8>(_configuration, encoded);
            Resize(gray, size);
            gray.CopyPixelDataTo(_pixels.AsSpan(0, size * size));
            return 1;
        }
        using var rgb = Image.Load<Rgb24>(_configuration, encoded);
        Resize(rgb, size);
        rgb.CopyPixelDataTo(_pixels.AsSpan(0, size * size * 3));
        return 3;
    }

    private static void Resize<TPixel>(Image<TPixel> image, int size)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        if (image.Width != size || image.Height != size)
        {
            image.Mutate(x => x.Resize(new ResizeOptions { Size = new Size(size, size), Mode = ResizeMode.Stretch, Sampler = KnownResamplers.Triangle }));
        }
    }

    /// <summary>ImageSharp 2.1's decoders throw far more than their documented exceptions on hostile bytes (see ImageEncoder).</summary>
    /// <remarks>
    /// OutOfMemoryException counts as the file's fault: its width and height were checked before decoding, so a
    /// decoder asking for more memory than that takes its size from a field the file forged. AFL found a 60-byte BMP
    /// whose pixel data "starts" 2 GB in, on which ImageSharp 2.1.13 throws "Array dimensions exceeded supported range".
    /// </remarks>
    private static bool IsDecoderFailure(Exception e) => e is not OperationCanceledException;
}
