using Pipeline.Core.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Core.Tests.Images;

public sealed class PngImageDataTests
{
    /// <summary>A 37×23 image of varied pixels (odd sizes leave Adam7 passes and partial bytes) in the given PNG form.</summary>
    private static byte[] Png(PngColorType colorType, PngBitDepth bitDepth, PngInterlaceMode interlace)
    {
        using var image = new Image<Rgba32>(37, 23);
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                image[x, y] = new Rgba32((byte)(x * 7), (byte)(y * 11), (byte)(x * y), (byte)(255 - x));
            }
        }
        using var buffer = new MemoryStream();
        image.SaveAsPng(buffer, new PngEncoder { ColorType = colorType, BitDepth = bitDepth, InterlaceMethod = interlace });
        return buffer.ToArray();
    }

    public static TheoryData<PngColorType, PngBitDepth, PngInterlaceMode> Forms => new()
    {
        { PngColorType.Grayscale, PngBitDepth.Bit8, PngInterlaceMode.None },
        { PngColorType.Grayscale, PngBitDepth.Bit1, PngInterlaceMode.None },
        { PngColorType.Grayscale, PngBitDepth.Bit16, PngInterlaceMode.Adam7 },
        { PngColorType.Rgb, PngBitDepth.Bit8, PngInterlaceMode.Adam7 },
        { PngColorType.RgbWithAlpha, PngBitDepth.Bit16, PngInterlaceMode.None },
        { PngColorType.GrayscaleWithAlpha, PngBitDepth.Bit8, PngInterlaceMode.Adam7 },
        { PngColorType.Palette, PngBitDepth.Bit4, PngInterlaceMode.Adam7 },
    };

    [Theory]
    [MemberData(nameof(Forms))]
    public void Complete_png_has_no_problem(PngColorType colorType, PngBitDepth bitDepth, PngInterlaceMode interlace)
    {
        Assert.Null(PngImageData.Problem(Png(colorType, bitDepth, interlace)));
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void Png_whose_image_data_stops_halfway_is_truncated(PngColorType colorType, PngBitDepth bitDepth, PngInterlaceMode interlace)
    {
        var png = Png(colorType, bitDepth, interlace);

        var problem = PngImageData.Problem(DamagedImages.PngWithImageDataCut(png, ImageDataLength(png) / 2));

        Assert.NotNull(problem);
        Assert.StartsWith("truncated: the PNG's image data holds ", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Png_claiming_5000_by_5000_over_100_bytes_of_image_data_is_truncated()
    {
        using var image = new Image<L8>(5000, 5000);
        using var buffer = new MemoryStream();
        image.SaveAsPng(buffer);

        var problem = PngImageData.Problem(DamagedImages.PngWithImageDataCut(buffer.ToArray(), 100));

        Assert.NotNull(problem);
        Assert.EndsWith("of the 25,005,000 bytes its header promises", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Png_cut_inside_a_chunk_or_before_iend_is_truncated()
    {
        var png = Png(PngColorType.Rgb, PngBitDepth.Bit8, PngInterlaceMode.None);

        Assert.Contains("ends inside its IDAT chunk", PngImageData.Problem(png[..(png.Length - 40)]), StringComparison.Ordinal);
        Assert.Equal("truncated: the PNG ends before its IEND chunk", PngImageData.Problem(png[..(png.Length - 12)]));
    }

    [Fact]
    public void A_second_header_chunk_is_corrupt_so_no_check_can_size_the_image_by_another_header_than_the_decoder()
    {
        // A small second IHDR would pass the size check (ImageSharp's Identify reads the last one) while the first,
        // 100000×100000, set how much data is inflated: a decompression bomb past the pixel limits.
        var png = Png(PngColorType.Rgb, PngBitDepth.Bit8, PngInterlaceMode.None);
        var ihdr = png.AsSpan(8, 25).ToArray();

        var twice = PngImageData.Problem([.. png[..33], .. ihdr, .. png[33..]]);

        Assert.Equal("corrupt: the PNG has more than one IHDR header chunk", twice);
    }

    [Fact]
    public void A_png_that_does_not_begin_with_a_valid_header_chunk_is_corrupt()
    {
        var png = Png(PngColorType.Rgb, PngBitDepth.Bit8, PngInterlaceMode.None);
        var badColourType = png.ToArray();
        badColourType[8 + 8 + 9] = 5; // colour type 5 does not exist

        Assert.Equal("corrupt: the PNG does not begin with its IHDR header chunk", PngImageData.Problem([.. png[..8], .. png[33..]]));
        Assert.Equal("corrupt: the PNG's IHDR gives no valid size, bit depth and colour type", PngImageData.Problem(badColourType));
    }

    [Fact]
    public void Bytes_that_are_not_a_png_have_no_png_problem()
    {
        Assert.Null(PngImageData.Problem(TestImages.Jpeg(8, 8)));
        Assert.Null(PngImageData.Problem([]));
    }

    /// <summary>The bytes of image data in the PNG's IDAT chunks.</summary>
    private static int ImageDataLength(byte[] png)
    {
        var total = 0;
        for (var at = 8; at + 12 <= png.Length;)
        {
            var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            if (png.AsSpan(at + 4, 4).SequenceEqual("IDAT"u8))
            {
                total += length;
            }
            at += 12 + length;
        }
        return total;
    }
}
