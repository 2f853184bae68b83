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
}
