using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Hashing;
using Pipeline.Core.Datasets;
using Pipeline.Core.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Core.Tests.Images;

public sealed class ImageEncoderTests
{
    private const string JpegFile = "flower_photos/daisy/a.jpg";
    private const string Origin = "datasets/flowers/train.csv:7";
    private static readonly long DefaultMaxPixels = new RecordsParameters().MaxImagePixels;

    private readonly ImageEncoder _encoder = new(jpegQuality: 95, maxPixels: DefaultMaxPixels);

    [Fact]
    public void Baseline_rgb_jpeg_passes_through_byte_identical_with_its_size()
    {
        var jpeg = TestImages.Jpeg(40, 24);

        var encoded = _encoder.EncodeFile(jpeg, JpegFile, Origin);

        Assert.Equal(jpeg, encoded.Bytes.ToArray());
        Assert.Equal(("JPEG", 40, 24, 3, "RGB"), (encoded.Format, encoded.Width, encoded.Height, encoded.Channels, encoded.Colorspace));
    }

    [Fact]
    public void Grayscale_jpeg_becomes_a_three_component_rgb_jpeg_of_the_same_size_and_shade()
    {
        var gray = TestImages.Jpeg(40, 24, JpegColorType.Luminance, new Rgb24(90, 90, 90));

        var encoded = _encoder.EncodeFile(gray, JpegFile, Origin);

        Assert.Equal(("JPEG", 40, 24, 3, "RGB"), (encoded.Format, encoded.Width, encoded.Height, encoded.Channels, encoded.Colorspace));
        AssertRgbJpeg(encoded.Bytes.ToArray(), 40, 24, new Rgb24(90, 90, 90));
    }

    [Fact]
    public void Rgb_coded_jpeg_with_adobe_transform_0_is_reencoded_as_ycbcr()
    {
        var rgbCoded = TestImages.Jpeg(40, 24, JpegColorType.Rgb, new Rgb24(30, 140, 220));

        var encoded = _encoder.EncodeFile(rgbCoded, JpegFile, Origin);

        Assert.NotEqual(rgbCoded, encoded.Bytes.ToArray());
        Assert.Equal(("JPEG", 40, 24, 3, "RGB"), (encoded.Format, encoded.Width, encoded.Height, encoded.Channels, encoded.Colorspace));
        AssertRgbJpeg(encoded.Bytes.ToArray(), 40, 24, new Rgb24(30, 140, 220));
    }

    [Fact]
    public void Png_with_alpha_becomes_an_rgb_jpeg_keeping_the_colour_channels_and_dropping_alpha()
    {
        var png = TestImages.Png(40, 24, new Rgba32(30, 140, 220, 128));

        var encoded = _encoder.EncodeFile(png, "a.png", Origin);

        Assert.Equal(("JPEG", 40, 24, 3, "RGB"), (encoded.Format, encoded.Width, encoded.Height, encoded.Channels, encoded.Colorspace));
        AssertRgbJpeg(encoded.Bytes.ToArray(), 40, 24, new Rgb24(30, 140, 220));
    }

    [Fact]
    public void Cmyk_jpeg_becomes_an_rgb_jpeg_of_the_same_colour()
    {
        // ImageSharp 2.1 cannot write CMYK. Adobe CMYK stores inverted ink: C=255 M=0 Y=0 K=255 is full magenta and
        // yellow, no cyan, no black: red.
        var cmyk = HandMadeJpeg.Flat(HandMadeJpeg.Baseline, [255, 0, 0, 255], width: 24, height: 16, adobeTransform: 0);
        Assert.Equal(4, JpegHeader.TryRead(cmyk)!.Value.Components);

        var encoded = _encoder.EncodeFile(cmyk, JpegFile, Origin);

        Assert.Equal(("JPEG", 24, 16, 3, "RGB"), (encoded.Format, encoded.Width, encoded.Height, encoded.Channels, encoded.Colorspace));
        AssertRgbJpeg(encoded.Bytes.ToArray(), 24, 16, new Rgb24(255, 0, 0));
    }

    [Fact]
    public void Progressive_jpeg_is_reencoded_as_baseline_of_the_same_colour()
    {
        // ImageSharp 2.1 cannot write progressive JPEG; Y=76 Cb=85 Cr=255 is red.
        var progressive = HandMadeJpeg.Flat(HandMadeJpeg.Progressive, [76, 85, 255], width: 24, height: 16);
        Assert.True(JpegHeader.TryRead(progressive)!.Value.IsProgressive);

        var encoded = _encoder.EncodeFile(progressive, JpegFile, Origin);

        Assert.Equal(("JPEG", 24, 16, 3, "RGB"), (encoded.Format, encoded.Width, encoded.Height, encoded.Channels, encoded.Colorspace));
        Assert.Equal(0xC0, JpegHeader.TryRead(encoded.Bytes.ToArray())!.Value.FrameMarker);
        AssertRgbJpeg(encoded.Bytes.ToArray(), 24, 16, new Rgb24(255, 0, 0));
    }

    [Fact]
    public void Gray_pixels_become_a_one_channel_grayscale_png()
    {
        var encoded = _encoder.EncodeGray([0, 64, 128, 255, 1, 2], width: 3, height: 2);

        Assert.Equal(("PNG", 3, 2, 1, "Grayscale"), (encoded.Format, encoded.Width, encoded.Height, encoded.Channels, encoded.Colorspace));
        using var decoded = Image.Load<L8>(encoded.Bytes.ToArray());
        Assert.Equal([0, 64, 128, 255, 1, 2], Enumerable.Range(0, 6).Select(i => decoded[i % 3, i / 3].PackedValue));
    }

    [Fact]
    public void Truncated_jpeg_throws_BadImageException_naming_the_file_at_the_origin()
    {
        var jpeg = TestImages.Jpeg(40, 24);

        var error = Assert.Throws<BadImageException>(() => _encoder.EncodeFile(jpeg[..(jpeg.Length * 7 / 10)], JpegFile, Origin));

        Assert.Equal(Origin, error.Location);
        Assert.StartsWith($"{Origin}: image {JpegFile} is truncated", error.Message);
    }

    [Fact]
    public void Truncated_png_throws_BadImageException_naming_the_file_at_the_origin()
    {
        var png = TestImages.Png(40, 24, new Rgba32(30, 140, 220, 255));

        var error = Assert.Throws<BadImageException>(() => _encoder.EncodeFile(png[..(png.Length * 7 / 10)], "a.png", Origin));

        Assert.Equal(Origin, error.Location);
        Assert.Contains("image a.png", error.Message);
    }

    [Fact]
    public void Random_bytes_throw_BadImageException_not_an_image()
    {
        var bytes = new byte[1000];
        new Random(1234).NextBytes(bytes);

        var error = Assert.Throws<BadImageException>(() => _encoder.EncodeFile(bytes, "noise.jpg", Origin));

        Assert.Equal(Origin, error.Location);
        Assert.Contains("noise.jpg is not an image", error.Message);
    }

    [Fact]
    public void Empty_file_throws_BadImageException_saying_it_is_empty()
    {
        var error = Assert.Throws<BadImageException>(() => _encoder.EncodeFile(Array.Empty<byte>(), "empty.jpg", Origin));

        Assert.Equal(Origin, error.Location);
        Assert.Equal($"{Origin}: image empty.jpg is empty", error.Message);
    }

    [Fact]
    public void Png_whose_IDAT_checksum_does_not_match_throws_BadImageException()
    {
        var png = TestImages.Png(40, 24, new Rgba32(30, 140, 220, 255));
        var (data, length) = Chunk(png, "IDAT"u8);
        for (var i = 0; i < 4; i++)
        {
            png[data + length / 2 + i] ^= 0xFF;
        }

        var error = Assert.Throws<BadImageException>(() => _encoder.EncodeFile(png, "a.png", Origin));

        Assert.Equal(Origin, error.Location);
        Assert.Contains("image a.png", error.Message);
    }

    [Fact]
    public void Png_whose_IDAT_holds_invalid_deflate_data_with_a_valid_checksum_throws_BadImageException()
    {
        var png = TestImages.Png(40, 24, new Rgba32(30, 140, 220, 255));
        var (data, length) = Chunk(png, "IDAT"u8);
        png[data + 2] = 0xFF; // first deflate block header: final block of reserved type 3
        RewriteCrc(png, data, length);

        var error = Record.Exception(() => _encoder.EncodeFile(png, "a.png", Origin));

        var bad = Assert.IsType<BadImageException>(error);
        Assert.Equal(Origin, bad.Location);
        Assert.Contains("image a.png", bad.Message);
    }

    [Fact]
    public void Jpeg_claiming_60000_by_60000_pixels_is_refused_quickly_before_decoding()
    {
        // SOF sizes are 16-bit, so 65535 is the most a JPEG can claim; 60000² is far over the default limit.
        var jpeg = TestImages.Jpeg(40, 24);
        var frame = TestImages.IndexOf(jpeg, [0xFF, 0xC0]);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(frame + 5), 60000);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(frame + 7), 60000);

        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<BadImageException>(() => _encoder.EncodeFile(jpeg, JpegFile, Origin));
        clock.Stop();

        Assert.Equal(Origin, error.Location);
        Assert.Contains("60000×60000", error.Message);
        Assert.Contains($"records.max_image_pixels = {DefaultMaxPixels}", error.Message);
        Assert.Contains("refused before decoding", error.Message);
        Assert.True(clock.ElapsedMilliseconds < 1000, $"took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void Png_claiming_100000_by_100000_pixels_is_refused_quickly_before_decoding()
    {
        var png = TestImages.Png(40, 24, new Rgba32(30, 140, 220, 255));
        var (data, length) = Chunk(png, "IHDR"u8);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(data), 100_000);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(data + 4), 100_000);
        RewriteCrc(png, data, length); // so the header is refused for its size, not its checksum

        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<BadImageException>(() => _encoder.EncodeFile(png, "a.png", Origin));
        clock.Stop();

        Assert.Equal(Origin, error.Location);
        Assert.Contains("100000×100000", error.Message);
        Assert.Contains($"records.max_image_pixels = {DefaultMaxPixels}", error.Message);
        Assert.Contains("refused before decoding", error.Message);
        Assert.True(clock.ElapsedMilliseconds < 1000, $"took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void Image_of_exactly_max_pixels_is_accepted_and_one_pixel_less_allowed_refuses_it()
    {
        var jpeg = TestImages.Jpeg(40, 24);
        var png = TestImages.Png(40, 24, new Rgba32(30, 140, 220, 255));
        var atLimit = new ImageEncoder(95, maxPixels: 40 * 24);
        var underLimit = new ImageEncoder(95, maxPixels: 40 * 24 - 1);

        Assert.Equal(jpeg, atLimit.EncodeFile(jpeg, JpegFile, Origin).Bytes.ToArray());
        Assert.Equal("JPEG", atLimit.EncodeFile(png, "a.png", Origin).Format);
        Assert.Contains("40×24", Assert.Throws<BadImageException>(() => underLimit.EncodeFile(jpeg, JpegFile, Origin)).Message);
        Assert.Contains("40×24", Assert.Throws<BadImageException>(() => underLimit.EncodeFile(png, "a.png", Origin)).Message);
    }

    /// <summary>Asserts the bytes are a baseline YCbCr JPEG of the given size whose every pixel is close to <paramref name="colour"/>.</summary>
    private static void AssertRgbJpeg(byte[] bytes, int width, int height, Rgb24 colour)
    {
        var header = JpegHeader.TryRead(bytes);
        Assert.True(header is { IsPassThroughRgb: true, Components: 3 }, $"not a baseline three-component JPEG: {header}");
        Assert.Equal(24, Image.Identify(bytes).PixelType.BitsPerPixel);
        using var decoded = Image.Load<Rgb24>(bytes);
        Assert.Equal((width, height), (decoded.Width, decoded.Height));
        TestImages.AssertAllPixelsNear(decoded, colour, tolerance: 6);
    }

    /// <summary>The offset of a PNG chunk's data (after its length and type) and the data's length.</summary>
    private static (int Data, int Length) Chunk(byte[] png, ReadOnlySpan<byte> type)
    {
        var at = TestImages.IndexOf(png, type);
        return (at + 4, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at - 4)));
    }

    private static void RewriteCrc(byte[] png, int data, int length) =>
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(data + length), Crc32.HashToUInt32(png.AsSpan(data - 4, 4 + length)));
}
