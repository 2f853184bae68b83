using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Core.Images;

/// <summary>
/// Turns a source image into record bytes: baseline RGB JPEGs pass through untouched, other formats and
/// colour models become RGB JPEG, raw grayscale pixels (IDX) become PNG.
/// </summary>
/// <remarks>Images are untrusted: the header is read first and absurd sizes are refused before any decode.</remarks>
public sealed class ImageEncoder
{
    private readonly JpegEncoder _jpeg;
    private readonly long _maxPixels;

    public ImageEncoder(int jpegQuality, long maxPixels)
    {
        _jpeg = new JpegEncoder { Quality = jpegQuality, ColorType = JpegColorType.YCbCrRatio420 };
        _maxPixels = maxPixels;
    }

    /// <summary>Encodes 8-bit grayscale pixels as a PNG.</summary>
    public EncodedImage EncodeGray(ReadOnlySpan<byte> pixels, int width, int height) =>
        new(GrayPngWriter.Encode(pixels, width, height), "PNG", width, height, 1, "Grayscale");

    /// <summary>Encodes a file's bytes; <paramref name="location"/> and <paramref name="file"/> go into any error.</summary>
    public EncodedImage EncodeFile(ReadOnlyMemory<byte> bytes, string file, string location)
    {
        if (bytes.Length == 0)
        {
            throw new BadImageException($"image {file} is empty", location);
        }

        var jpeg = JpegHeader.TryRead(bytes.Span);
        if (jpeg is { } header)
        {
            CheckSize(header.Width, header.Height, file, location);
            CheckComplete(bytes.Span, file, location);
            if (header.IsPassThroughRgb)
            {
                return new EncodedImage(bytes, "JPEG", header.Width, header.Height, 3, "RGB");
            }
        }

        if (UntrustedImages.Refusal(bytes.Span) is { } refusal)
        {
            throw new BadImageException($"image {file} is {refusal}", location);
        }
        // Only images that need converting get here; ImageSharp 2.1 wants an array for them.
        var array = bytes.ToArray();
        IImageInfo? info;
        try
        {
            info = Image.Identify(UntrustedImages.FirstFrameOnly, new MemoryStream(array, writable: false));
        }
        catch (Exception e) when (IsDecoderFailure(e))
        {
            throw new BadImageException($"image {file} is corrupt: {e.Message}", location, e);
        }
        if (info is null)
        {
            throw new BadImageException($"{file} is not an image in a format we can read (JPEG, PNG, GIF, BMP, TGA, TIFF, WebP, PBM)", location);
        }
        CheckSize(info.Width, info.Height, file, location);
        if (jpeg is null)
        {
            CheckComplete(array, file, location);
        }

        try
        {
            using var image = Image.Load<Rgb24>(UntrustedImages.FirstFrameOnly, array);
            using var buffer = new MemoryStream();
            image.SaveAsJpeg(buffer, _jpeg);
            return new EncodedImage(buffer.ToArray(), "JPEG", image.Width, image.Height, 3, "RGB");
        }
        catch (Exception e) when (IsDecoderFailure(e))
        {
            throw new BadImageException($"image {file} cannot be decoded: {e.Message}", location, e);
        }
    }

    /// <summary>
    /// What a decoder throws on hostile or damaged bytes. ImageSharp 2.1's decoders throw far more than their
    /// documented exceptions on such input (corrupt TGA, TIFF, BMP, PBM and WebP files were seen to throw
    /// ArgumentException, InvalidOperationException, DivideByZeroException, IndexOutOfRangeException and
    /// NullReferenceException), so anything but running out of memory or being cancelled means a bad image.
    /// </summary>
    /// <remarks>
    /// OutOfMemoryException counts as the file's fault: its width and height were checked before decoding, so a
    /// decoder asking for more memory than that takes its size from a field the file forged. AFL found a 60-byte BMP
    /// whose pixel data "starts" 2 GB in, on which ImageSharp 2.1.13 throws "Array dimensions exceeded supported range".
    /// </remarks>
    private static bool IsDecoderFailure(Exception e) => e is not OperationCanceledException;

    /// <summary>The check every decoder for a model makes too (UntrustedImages), so what Records refuses is never served either.</summary>
    private static void CheckComplete(ReadOnlySpan<byte> bytes, string file, string location)
    {
        if (UntrustedImages.Truncation(bytes) is { } truncation)
        {
            throw new BadImageException($"image {file} is {truncation}", location);
        }
    }

    private void CheckSize(int width, int height, string file, string location)
    {
        if (width <= 0 || height <= 0 || (long)width * height > _maxPixels)
        {
            throw new BadImageException(
                $"image {file} is {width}×{height}, outside the allowed size (records.max_image_pixels = {_maxPixels}); refused before decoding",
                location);
        }
    }
}
