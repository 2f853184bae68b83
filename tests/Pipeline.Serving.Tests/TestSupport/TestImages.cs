using Pipeline.Core.Tests.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Serving.Tests.TestSupport;

/// <summary>Images for requests, drawn and encoded by ImageSharp; what <see cref="TinyExport"/>'s model answers for each is known.</summary>
internal static class TestImages
{
    /// <summary>A grayscale PNG of one level: dark (class 0) below 128, light (class 1) above.</summary>
    public static byte[] GrayPng(byte level, int width = TinyExport.Size, int height = TinyExport.Size)
    {
        using var image = new Image<L8>(width, height, new L8(level));
        return Png(image);
    }

    /// <summary>A grayscale PNG white on its left half and black on its right (class 2).</summary>
    public static byte[] LeftLitPng(int width = TinyExport.Size, int height = TinyExport.Size, byte level = 255)
    {
        using var image = new Image<L8>(width, height);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width / 2; x++)
            {
                image[x, y] = new L8(level);
            }
        }
        return Png(image);
    }

    /// <summary>An RGB JPEG of one colour; the model reads its luminance.</summary>
    public static byte[] RgbJpeg(Rgb24 colour, int width, int height)
    {
        using var image = new Image<Rgb24>(width, height, colour);
        using var buffer = new MemoryStream();
        image.SaveAsJpeg(buffer);
        return buffer.ToArray();
    }

    /// <summary>
    /// A 30×30 JPEG of noise without its last 100 bytes: what a cut-off upload leaves. ImageSharp decodes it without
    /// complaint, inventing the missing blocks; the Records stage refuses it.
    /// </summary>
    public static byte[] TruncatedJpeg()
    {
        using var image = Noise(30, 30);
        using var buffer = new MemoryStream();
        image.SaveAsJpeg(buffer);
        return DamagedImages.Truncated(buffer.ToArray(), (int)buffer.Length - 100);
    }

    /// <summary>A 30×30 PNG of noise whose image data stops after 100 bytes, in well-formed chunks: the header promises more than the data holds.</summary>
    public static byte[] PngWithShortImageData()
    {
        using var image = Noise(30, 30);
        return DamagedImages.PngWithImageDataCut(Png(image), 100);
    }

    private static Image<L8> Noise(int width, int height)
    {
        var random = new Random(7);
        var image = new Image<L8>(width, height);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                image[x, y] = new L8((byte)random.Next(256));
            }
        }
        return image;
    }

    public static byte[] Black => GrayPng(0);

    public static byte[] White => GrayPng(255);

    private static byte[] Png(Image<L8> image)
    {
        using var buffer = new MemoryStream();
        image.SaveAsPng(buffer);
        return buffer.ToArray();
    }
}
