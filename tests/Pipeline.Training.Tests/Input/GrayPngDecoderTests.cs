using System.Buffers.Binary;
using System.IO.Hashing;
using Pipeline.Core.Images;
using Pipeline.Training.Input;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Training.Tests.Input;

public sealed class GrayPngDecoderTests
{
    private const int Side = 28;

    /// <summary>Gradients plus noise, so that every PNG filter has something to predict and something to miss.</summary>
    private static byte[] Pixels(int side = Side)
    {
        var random = new Random(1);
        return [.. Enumerable.Range(0, side * side).Select(i => (byte)((i % side) * 7 + (i / side) * 3 + random.Next(40)))];
    }

    private static byte[] ImageSharpPng(byte[] pixels, int side, PngFilterMethod filter, PngInterlaceMode interlace = PngInterlaceMode.None,
        PngColorType color = PngColorType.Grayscale, PngBitDepth depth = PngBitDepth.Bit8)
    {
        using var image = Image.LoadPixelData<L8>(pixels, side, side);
        using var buffer = new MemoryStream();
        image.SaveAsPng(buffer, new PngEncoder { ColorType = color, BitDepth = depth, FilterMethod = filter, InterlaceMethod = interlace });
        return buffer.ToArray();
    }

    private static byte[]? Decode(byte[] png, int side = Side)
    {
        var pixels = new byte[side * side];
        return new GrayPngDecoder().TryDecode(png, side, pixels) ? pixels : null;
    }

    [Theory]
    [InlineData(PngFilterMethod.None)]
    [InlineData(PngFilterMethod.Sub)]
    [InlineData(PngFilterMethod.Up)]
    [InlineData(PngFilterMethod.Average)]
    [InlineData(PngFilterMethod.Paeth)]
    [InlineData(PngFilterMethod.Adaptive)]
    public void Every_filter_is_undone(PngFilterMethod filter)
    {
        var pixels = Pixels();

        Assert.Equal(pixels, Decode(ImageSharpPng(pixels, Side, filter)));
    }

    [Fact]
    public void The_records_stage_pngs_are_decoded()
    {
        var pixels = Pixels();

        Assert.Equal(pixels, Decode(GrayPngWriter.Encode(pixels, Side, Side)));
    }

    [Fact]
    public void Image_data_split_over_several_chunks_is_joined()
    {
        var pixels = Pixels();

        Assert.Equal(pixels, Decode(SplitIdat(GrayPngWriter.Encode(pixels, Side, Side), 3)));
    }

    [Fact]
    public void One_decoder_decodes_image_after_image()
    {
        var decoder = new GrayPngDecoder();
        var target = new byte[Side * Side];
        foreach (var pixels in new[] { Pixels(), new byte[Side * Side], Enumerable.Repeat((byte)255, Side * Side).ToArray() })
        {
            Assert.True(decoder.TryDecode(SplitIdat(GrayPngWriter.Encode(pixels, Side, Side), 2), Side, target));
            Assert.Equal(pixels, target);
        }
    }

    [Fact]
    public void What_it_does_not_handle_is_declined_for_imagesharp()
    {
        var pixels = Pixels();

        Assert.Null(Decode(GrayPngWriter.Encode(pixels, Side, Side), Side + 1)); // another size
        Assert.Null(Decode(ImageSharpPng(pixels, Side, PngFilterMethod.None, PngInterlaceMode.Adam7)));
        Assert.Null(Decode(ImageSharpPng(pixels, Side, PngFilterMethod.None, color: PngColorType.Rgb)));
        Assert.Null(Decode(ImageSharpPng(pixels, Side, PngFilterMethod.None, depth: PngBitDepth.Bit16)));
        Assert.Null(Decode(RecordFixturesJpeg()));
        Assert.Null(Decode(GrayPngWriter.Encode(pixels, Side, Side)[..100])); // cut short
    }

    private static byte[] RecordFixturesJpeg() => Pipeline.Core.Tests.TestSupport.TestDatasets.Jpeg(Side, Side, 10, 20, 30);

    /// <summary>Rewrites a one-IDAT PNG with its image data split into <paramref name="parts"/> IDAT chunks.</summary>
    private static byte[] SplitIdat(byte[] png, int parts)
    {
        var idat = png.AsSpan().IndexOf("IDAT"u8) - 4;
        var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(idat));
        var data = png.AsSpan(idat + 8, length).ToArray();
        var output = new MemoryStream();
        output.Write(png, 0, idat);
        for (var part = 0; part < parts; part++)
        {
            var slice = data.AsSpan(part * length / parts, (part + 1) * length / parts - part * length / parts);
            var chunk = new byte[12 + slice.Length];
            BinaryPrimitives.WriteInt32BigEndian(chunk, slice.Length);
            "IDAT"u8.CopyTo(chunk.AsSpan(4));
            slice.CopyTo(chunk.AsSpan(8));
            BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + slice.Length), Crc32.HashToUInt32(chunk.AsSpan(4, 4 + slice.Length)));
            output.Write(chunk);
        }
        output.Write(png, idat + 12 + length, png.Length - idat - 12 - length);
        var result = output.ToArray();
        using (Image.Load<L8>(result))
        {
            // ImageSharp accepts the rewritten file: it is still a valid PNG.
        }
        return result;
    }
}
