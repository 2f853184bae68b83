using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Core.Tests.Images;

/// <summary>Small images drawn and encoded by ImageSharp, the fixtures of the image tests.</summary>
internal static class TestImages
{
    /// <summary>A JPEG of one colour; non-square sizes catch width and height swapped.</summary>
    public static byte[] Jpeg(int width, int height, JpegColorType colorType = JpegColorType.YCbCrRatio420, Rgb24? colour = null)
    {
        using var image = new Image<Rgb24>(width, height, colour ?? new Rgb24(200, 120, 40));
        using var buffer = new MemoryStream();
        image.SaveAsJpeg(buffer, new JpegEncoder { Quality = 90, ColorType = colorType });
        return buffer.ToArray();
    }

    /// <summary>A truecolour-with-alpha PNG whose every pixel is <paramref name="colour"/>.</summary>
    public static byte[] Png(int width, int height, Rgba32 colour)
    {
        using var image = new Image<Rgba32>(width, height, colour);
        using var buffer = new MemoryStream();
        image.SaveAsPng(buffer, new PngEncoder { ColorType = PngColorType.RgbWithAlpha, BitDepth = PngBitDepth.Bit8 });
        return buffer.ToArray();
    }

    /// <summary>The offset of the first <paramref name="pattern"/> in <paramref name="bytes"/>; fails the test when absent.</summary>
    public static int IndexOf(byte[] bytes, ReadOnlySpan<byte> pattern)
    {
        var at = bytes.AsSpan().IndexOf(pattern);
        Assert.True(at >= 0, "the fixture lacks the bytes the test patches");
        return at;
    }

    /// <summary>Asserts every pixel of a decoded image is within <paramref name="tolerance"/> of <paramref name="expected"/> in each channel.</summary>
    public static void AssertAllPixelsNear(Image<Rgb24> image, Rgb24 expected, int tolerance)
    {
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                var p = image[x, y];
                var near = Math.Abs(p.R - expected.R) <= tolerance && Math.Abs(p.G - expected.G) <= tolerance && Math.Abs(p.B - expected.B) <= tolerance;
                Assert.True(near, $"pixel ({x}, {y}) is {p}, expected {expected} ± {tolerance}");
            }
        }
    }
}
