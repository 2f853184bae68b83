using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Pbm;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tga;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
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
    public static readonly Configuration FirstFrameOnly = Create(ImageFormats.All);

    /// <summary>A configuration that decodes only <paramref name="formats"/>: the other formats' decoders are not even registered.</summary>
    public static Configuration For(IReadOnlyCollection<string> formats) =>
        ImageFormats.AreAll(formats) ? FirstFrameOnly : Create(formats);

    /// <summary>
    /// Why bytes of a format outside <paramref name="formats"/> are refused, naming it, or null. Told from the first
    /// bytes alone (each format's signature), before any of its decoder's code runs.
    /// </summary>
    public static string? FormatRefusal(ReadOnlySpan<byte> bytes, IReadOnlyCollection<string> formats)
    {
        var format = Image.DetectFormat(FirstFrameOnly, bytes);
        return format is null || formats.Contains(ImageFormats.Name(format), StringComparer.OrdinalIgnoreCase)
            ? null
            : $"a {ImageFormats.Name(format)} image, a format not accepted here (accepted: {string.Join(", ", formats)})";
    }

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

    private static Configuration Create(IReadOnlyCollection<string> formats)
    {
        bool Has(string name) => formats.Contains(name, StringComparer.OrdinalIgnoreCase);
        // Each format's module registers its detector, decoder and encoder; a format left out is unknown to it.
        var modules = new Dictionary<string, Func<IConfigurationModule>>(StringComparer.Ordinal)
        {
            ["PNG"] = () => new PngConfigurationModule(),
            ["JPEG"] = () => new JpegConfigurationModule(),
            ["GIF"] = () => new GifConfigurationModule(),
            ["BMP"] = () => new BmpConfigurationModule(),
            ["PBM"] = () => new PbmConfigurationModule(),
            ["TGA"] = () => new TgaConfigurationModule(),
            ["TIFF"] = () => new TiffConfigurationModule(),
            ["WebP"] = () => new WebpConfigurationModule(),
        };
        var configuration = new Configuration([.. modules.Where(m => Has(m.Key)).Select(m => m.Value())]);
        if (Has("GIF"))
        {
            configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });
        }
        if (Has("TIFF"))
        {
            configuration.ImageFormatsManager.SetDecoder(TiffFormat.Instance, new TiffDecoder { DecodingMode = FrameDecodingMode.First });
        }
        return configuration;
    }
}
