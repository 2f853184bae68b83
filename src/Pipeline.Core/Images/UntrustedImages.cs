using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Metadata;

namespace Pipeline.Core.Images;

/// <summary>
/// How we decode images we did not make: the first frame only. Image.Identify reports one frame's size, so a GIF or
/// TIFF of thousands of frames, each within the pixel limit and each a few bytes compressed, would otherwise pass the
/// size check and then be decoded whole. ImageSharp 2.1 cannot limit WebP's frames, so an animated WebP is refused.
/// And complete images only: the Records stage and every decoder for a model (training, evaluation, serving) refuse
/// the same truncated files through <see cref="Truncation"/>.
/// </summary>
internal static class UntrustedImages
{
    public static readonly Configuration FirstFrameOnly = Create();

    /// <summary>Why the bytes are refused before any decoder sees them, or null.</summary>
    public static string? Refusal(ReadOnlySpan<byte> bytes)
    {
        // RIFF <size> WEBP VP8X <chunk size> <flags>: flag bit 1 marks an animation (the WebP container spec).
        if (bytes.Length >= 21 && bytes[..4].SequenceEqual("RIFF"u8) && bytes[8..12].SequenceEqual("WEBP"u8)
            && bytes[12..16].SequenceEqual("VP8X"u8) && (bytes[20] & 0x02) != 0)
        {
            return "an animated WebP; send a single still image";
        }
        return null;
    }

    /// <summary>
    /// Why an image is cut short or its data corrupt, or null. ImageSharp 2.1 decodes a JPEG without its end marker, or a
    /// PNG whose image data stops early, without complaint, inventing the missing pixels; we refuse both. Call it once
    /// the header's size is within the limit: a PNG's data is inflated (not decoded) to the size its header promises.
    /// </summary>
    public static string? Truncation(ReadOnlySpan<byte> bytes)
    {
        if (JpegHeader.TryRead(bytes) is { HasEndMarker: false })
        {
            return "truncated: the JPEG has no end-of-image marker";
        }
        return PngImageData.Problem(bytes);
    }

    private static Configuration Create()
    {
        var configuration = Configuration.Default.Clone();
        configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });
        configuration.ImageFormatsManager.SetDecoder(TiffFormat.Instance, new TiffDecoder { DecodingMode = FrameDecodingMode.First });
        return configuration;
    }
}
