using System.Buffers.Binary;
using System.IO.Hashing;
using Pipeline.Core.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Core.Tests.Images;

public sealed class GrayPngWriterTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(28, 28)]
    [InlineData(7, 3)]
    [InlineData(3, 7)]
    [InlineData(300, 2)]
    public void Output_decodes_to_exactly_the_input_pixels(int width, int height)
    {
        var pixels = Pattern(width * height);

        var png = GrayPngWriter.Encode(pixels, width, height);

        using var decoded = Image.Load<L8>(png);
        Assert.Equal((width, height), (decoded.Width, decoded.Height));
        var actual = new byte[width * height];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                actual[y * width + x] = decoded[x, y].PackedValue;
            }
        }
        Assert.Equal(pixels, actual);
    }

    [Fact]
    public void ImageSharp_reads_the_output_as_an_8_bit_grayscale_png()
    {
        var png = GrayPngWriter.Encode(Pattern(28 * 28), 28, 28);

        using var decoded = Image.Load(png, out var format);
        var metadata = decoded.Metadata.GetPngMetadata();

        Assert.Equal("PNG", format.Name);
        Assert.Equal((PngColorType.Grayscale, PngBitDepth.Bit8), (metadata.ColorType, metadata.BitDepth));
    }

    [Fact]
    public void Output_starts_with_the_png_signature_and_a_grayscale_8_bit_IHDR()
    {
        var png = GrayPngWriter.Encode(Pattern(7 * 3), width: 7, height: 3);

        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal(13, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(8)));
        Assert.Equal("IHDR"u8.ToArray(), png[12..16]);
        Assert.Equal(7, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(3, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        Assert.Equal(new byte[] { 8, 0, 0, 0, 0 }, png[24..29]); // depth 8, grayscale, deflate, adaptive filters, no interlace
        Assert.Equal(Crc32.HashToUInt32(png.AsSpan(12, 17)), BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(29)));
    }

    [Fact]
    public void Chunks_are_IHDR_IDAT_IEND_each_with_a_correct_crc_and_nothing_after()
    {
        var png = GrayPngWriter.Encode(Pattern(28 * 28), 28, 28);

        var chunks = new List<string>();
        var at = 8;
        while (at < png.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            var crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 8 + length));
            Assert.Equal(Crc32.HashToUInt32(png.AsSpan(at + 4, 4 + length)), crc);
            chunks.Add(System.Text.Encoding.ASCII.GetString(png, at + 4, 4));
            at += 12 + length;
        }

        Assert.Equal(["IHDR", "IDAT", "IEND"], chunks);
        Assert.Equal(png.Length, at);
    }

    [Fact]
    public void Identical_input_gives_identical_bytes()
    {
        var pixels = Pattern(28 * 28);

        Assert.Equal(GrayPngWriter.Encode(pixels, 28, 28), GrayPngWriter.Encode(pixels.ToArray(), 28, 28));
    }

    [Theory]
    [InlineData(28, 28, 28 * 28 - 1)]
    [InlineData(28, 28, 28 * 28 + 1)]
    [InlineData(3, 2, 0)]
    [InlineData(0, 28, 0)]
    [InlineData(28, 0, 0)]
    [InlineData(-1, -1, 1)]
    public void Pixel_count_that_does_not_make_a_positive_size_throws_ArgumentException(int width, int height, int count)
    {
        var error = Assert.Throws<ArgumentException>(() => GrayPngWriter.Encode(new byte[count], width, height));

        Assert.Equal("pixels", error.ParamName);
    }

    private static byte[] Pattern(int count) => Enumerable.Range(0, count).Select(i => (byte)(i * 37 + 11)).ToArray();
}
