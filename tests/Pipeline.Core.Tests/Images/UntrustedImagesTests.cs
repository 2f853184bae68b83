using Pipeline.Core.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Core.Tests.Images;

public sealed class UntrustedImagesTests
{
    [Fact]
    public void Only_the_first_frame_of_a_many_frame_gif_is_decoded()
    {
        using var animation = new Image<Rgb24>(4, 4, new Rgb24(0, 0, 0));
        for (var i = 0; i < 20; i++)
        {
            using var frame = new Image<Rgb24>(4, 4, new Rgb24(255, 255, 255));
            animation.Frames.AddFrame(frame.Frames.RootFrame);
        }
        using var gif = new MemoryStream();
        animation.SaveAsGif(gif);

        using var decoded = Image.Load<Rgb24>(UntrustedImages.FirstFrameOnly, gif.ToArray());

        Assert.Equal(1, decoded.Frames.Count);
        var pixels = new InputImageDecoder(new InputSpec(1, 4, [0f], [1f]));
        pixels.DecodePixels(gif.ToArray(), "animation.gif");
        Assert.All(pixels.Pixels.ToArray(), p => Assert.Equal(0, p));
    }

    [Fact]
    public void An_animated_webp_is_refused_before_any_decoder_sees_it()
    {
        // RIFF container, WEBP, a VP8X chunk whose flags mark an animation; what follows never gets read.
        var bytes = new byte[64];
        "RIFF"u8.CopyTo(bytes);
        "WEBPVP8X"u8.CopyTo(bytes.AsSpan(8));
        bytes[20] = 0x02;

        var error = Assert.Throws<BadImageException>(() => new InputImageDecoder(new InputSpec(3, 8, [0f], [1f])).DecodePixels(bytes, "instances[0]"));

        Assert.Equal("instances[0]: an animated WebP; send a single still image", error.Message);
    }

    public static TheoryData<string> DamagedFiles => ["JPEG cut at 70 %", "PNG whose image data stops at 100 bytes", "PNG whose image data stops halfway"];

    /// <summary>A 300×300 JPEG or PNG of varied pixels, damaged as <paramref name="damage"/> says.</summary>
    private static byte[] Damaged(string damage)
    {
        using var image = new Image<Rgb24>(300, 300);
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                image[x, y] = new Rgb24((byte)(x * 7), (byte)(y * 13), (byte)(x + y));
            }
        }
        using var buffer = new MemoryStream();
        if (damage.StartsWith("JPEG", StringComparison.Ordinal))
        {
            image.SaveAsJpeg(buffer);
            return DamagedImages.Truncated(buffer.ToArray(), (int)buffer.Length * 7 / 10);
        }
        image.SaveAsPng(buffer);
        var png = buffer.ToArray();
        return DamagedImages.PngWithImageDataCut(png, damage.EndsWith("100 bytes", StringComparison.Ordinal) ? 100 : png.Length / 2);
    }

    [Theory]
    [MemberData(nameof(DamagedFiles))]
    public void Records_and_the_model_decoder_refuse_a_damaged_file_for_the_same_reason(string damage)
    {
        var bytes = Damaged(damage);
        var expected = UntrustedImages.Truncation(bytes);

        var records = Assert.Throws<BadImageException>(() => new ImageEncoder(90, 64L * 1024 * 1024).EncodeFile(bytes, "a", "origin"));
        var model = Assert.Throws<BadImageException>(() => new InputImageDecoder(new InputSpec(1, 28, [0.5f], [0.5f])).DecodePixels(bytes, "instances[1]"));

        Assert.NotNull(expected);
        Assert.StartsWith("truncated: ", expected, StringComparison.Ordinal);
        Assert.Equal($"image a is {expected}", records.Problem);
        Assert.Equal($"instances[1]: the image is {expected}", model.Message);
    }

    [Fact]
    public void A_decoder_limited_to_some_formats_refuses_the_others_by_their_signature_naming_the_format()
    {
        using var image = new Image<Rgb24>(6, 6, new Rgb24(200, 200, 200));
        using var tiff = new MemoryStream();
        image.SaveAsTiff(tiff);
        using var png = new MemoryStream();
        image.SaveAsPng(png);
        var input = new InputSpec(1, 6, [0f], [1f]);
        var limited = new InputImageDecoder(input, formats: ["JPEG", "PNG"]);

        var error = Assert.Throws<BadImageException>(() => limited.DecodePixels(tiff.ToArray(), "instances[1]"));
        limited.DecodePixels(png.ToArray(), "instances[0]");
        var every = new InputImageDecoder(input);
        var fromAll = every.DecodePixels(tiff.ToArray(), "image.tiff");

        Assert.Equal("instances[1]: a TIFF image, a format not accepted here (accepted: JPEG, PNG)", error.Message);
        Assert.All(limited.Pixels.ToArray(), p => Assert.Equal(200, p));
        Assert.Equal(1, fromAll);
        Assert.All(every.Pixels.ToArray(), p => Assert.Equal(200, p));
    }

    [Theory]
    [InlineData("all", "JPEG,PNG,GIF,BMP,WebP,TIFF,TGA,PBM")]
    [InlineData("jpg, png,webp", "JPEG,PNG,WebP")]
    [InlineData("PNG,png", "PNG")]
    public void Format_lists_are_read_in_any_case_with_jpg_for_jpeg(string list, string expected)
    {
        Assert.Equal(expected, string.Join(",", ImageFormats.Parse(list)));
    }

    [Fact]
    public void An_unknown_format_name_is_refused_listing_the_formats()
    {
        var error = Assert.Throws<ArgumentException>(() => ImageFormats.Parse("png,heic"));

        Assert.StartsWith("\"heic\" is not an image format we read; they are JPEG, PNG, GIF, BMP, WebP, TIFF, TGA, PBM (or all)", error.Message, StringComparison.Ordinal);
    }

    /// <summary>AFL's find (build/benchmark-decoders.sh): 60 bytes of BMP whose pixel-data offset is 0x7fffffff.</summary>
    [Fact]
    public void A_bmp_that_makes_the_decoder_ask_for_an_impossible_array_is_a_bad_image_not_an_out_of_memory_failure()
    {
        var bytes = Convert.FromHexString("424d76f5220000000000ffffff7f10000000100000002800000010000800000000280000001000080002006400010018000040020000000010181420");

        var error = Assert.Throws<BadImageException>(() => new InputImageDecoder(new InputSpec(3, 8, [0f], [1f])).DecodePixels(bytes, "instances[0]"));

        Assert.StartsWith("instances[0]: ", error.Message, StringComparison.Ordinal);
        Assert.IsType<OutOfMemoryException>(error.InnerException);
    }
}
