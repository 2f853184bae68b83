using Google.Protobuf;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Training.Input;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Training.Tests.Input;

public sealed class ExampleDecoderTests
{
    // 1 2 3
    // 4 5 6
    // 7 8 9
    private static readonly byte[] Asymmetric = [1, 2, 3, 4, 5, 6, 7, 8, 9];

    /// <summary>Level v becomes v, so expected outputs read as pixel levels.</summary>
    private static readonly float[][] Identity = [[.. Enumerable.Range(0, 256).Select(v => (float)v)]];

    private static float[] Write(Augmentation augmentation)
    {
        var output = new float[9];
        ExampleDecoder.Write(Asymmetric, 1, 3, Identity, augmentation, output);
        return output;
    }

    [Fact]
    public void No_augmentation_keeps_the_image()
    {
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9], Write(Augmentation.None));
    }

    [Fact]
    public void Flip_mirrors_left_and_right()
    {
        Assert.Equal([3, 2, 1, 6, 5, 4, 9, 8, 7], Write(new Augmentation(true, 0, 0)));
    }

    [Fact]
    public void Translate_shifts_right_and_down_for_positive_offsets_filling_with_black()
    {
        Assert.Equal([0, 1, 2, 0, 4, 5, 0, 7, 8], Write(new Augmentation(false, 1, 0)));
        Assert.Equal([0, 0, 0, 1, 2, 3, 4, 5, 6], Write(new Augmentation(false, 0, 1)));
        Assert.Equal([5, 6, 0, 8, 9, 0, 0, 0, 0], Write(new Augmentation(false, -1, -1)));
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 0], Write(new Augmentation(false, 3, 0)));
    }

    [Fact]
    public void Flip_comes_before_the_shift()
    {
        Assert.Equal([0, 3, 2, 0, 6, 5, 0, 9, 8], Write(new Augmentation(true, 1, 0)));
    }

    [Fact]
    public void The_fill_is_what_black_normalizes_to()
    {
        var levels = ExampleDecoder.NormalizedLevels(new InputSpec(1, 3, [0.5f], [0.25f]));
        var output = new float[9];

        ExampleDecoder.Write(Asymmetric, 1, 3, levels, new Augmentation(false, 0, 2), output);

        Assert.Equal(Enumerable.Repeat(-2f, 6), output[..6]);
        Assert.Equal((1 / 255f - 0.5f) / 0.25f, output[6]);
    }

    [Fact]
    public void Rgb_pixels_are_written_channel_by_channel()
    {
        byte[] rgb = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120];
        float[][] levels = [Identity[0], Identity[0], Identity[0]];
        var output = new float[12];

        ExampleDecoder.Write(rgb, 3, 2, levels, new Augmentation(true, 0, 0), output);

        Assert.Equal([40, 10, 100, 70, 50, 20, 110, 80, 60, 30, 120, 90], output);
    }

    [Fact]
    public void Fast_path_and_imagesharp_agree_on_gray_pngs()
    {
        var pixels = Enumerable.Range(0, 28 * 28).Select(i => (byte)(i * 37 % 251)).ToArray();
        var decoder = new ExampleDecoder(RecordFixtures.Gray(28));
        var fast = new float[28 * 28];
        decoder.Decode(Record(RecordFixtures.Example(GrayPngWriter.Encode(pixels, 28, 28), 3)), "s", fast, Augmentation.None);

        Assert.Equal(1, decoder.LoadWithImageSharp(GrayPngWriter.Encode(pixels, 28, 28)));
        Assert.Equal(pixels, decoder.Pixels[..(28 * 28)].ToArray());
        Assert.Equal(pixels.Select(p => (p / 255f - 0.5f) / 0.5f), fast);
    }

    [Fact]
    public void Labels_come_back_zero_based()
    {
        var decoder = new ExampleDecoder(RecordFixtures.Gray(2));

        Assert.Equal(4, decoder.Decode(Record(RecordFixtures.Example(GrayPngWriter.Encode(new byte[4], 2, 2), 5)), "s", new float[4], Augmentation.None));
    }

    [Fact]
    public void Rgb_images_become_luminance_for_one_channel_and_planes_for_three()
    {
        var png = RgbPng(4, 4, new Rgb24(200, 100, 50));
        var spec = new InputSpec(3, 4, [0f], [1f]);
        var rgb = new float[48];
        var gray = new float[16];

        new ExampleDecoder(spec).Decode(Record(RecordFixtures.Example(png, 1)), "s", rgb, Augmentation.None);
        new ExampleDecoder(spec with { Channels = 1 }).Decode(Record(RecordFixtures.Example(png, 1)), "s", gray, Augmentation.None);

        Assert.All(rgb[..16], v => Assert.Equal(200 / 255f, v));
        Assert.All(rgb[16..32], v => Assert.Equal(100 / 255f, v));
        Assert.All(rgb[32..], v => Assert.Equal(50 / 255f, v));
        var luminance = new L8();
        luminance.FromRgb24(new Rgb24(200, 100, 50));
        Assert.All(gray, v => Assert.Equal(luminance.PackedValue / 255f, v));
        Assert.InRange(luminance.PackedValue, 100, 140);
    }

    [Fact]
    public void Images_of_another_size_are_stretched_bilinearly_to_the_input_size()
    {
        // 8 wide, 2 high: the left half black, the right half white.
        using var image = new Image<L8>(8, 2);
        for (var x = 4; x < 8; x++)
        {
            image[x, 0] = image[x, 1] = new L8(255);
        }
        using var buffer = new MemoryStream();
        image.SaveAsPng(buffer);
        var output = new float[16];

        new ExampleDecoder(new InputSpec(1, 4, [0f], [1f])).Decode(Record(RecordFixtures.Example(buffer.ToArray(), 1)), "s", output, Augmentation.None);

        for (var y = 0; y < 4; y++)
        {
            Assert.Equal(0f, output[y * 4]);
            Assert.InRange(output[y * 4 + 1], 0f, 0.5f);
            Assert.InRange(output[y * 4 + 2], 0.5f, 1f);
            Assert.Equal(1f, output[y * 4 + 3]);
        }
    }

    [Fact]
    public void A_jpeg_is_decoded()
    {
        var jpeg = Pipeline.Core.Tests.TestSupport.TestDatasets.Jpeg(16, 16, 0, 0, 0);
        var output = new float[16 * 16];

        new ExampleDecoder(new InputSpec(1, 16, [0f], [1f])).Decode(Record(RecordFixtures.Example(jpeg, 1)), "s", output, Augmentation.None);

        Assert.All(output, v => Assert.InRange(v, 0f, 0.02f));
    }

    [Fact]
    public void A_missing_key_is_named()
    {
        var example = RecordFixtures.Example(GrayPngWriter.Encode(new byte[4], 2, 2), 1);
        example.Features.Feature.Remove("image/class/label");

        var error = Assert.Throws<PipelineException>(() =>
            new ExampleDecoder(RecordFixtures.Gray(2)).Decode(Record(example, 77), "shard.tfrecord", new float[4], Augmentation.None));

        Assert.Equal("shard.tfrecord: record at byte 77: the Example has no image/class/label integer; rebuild the shard with --force", error.Message);
    }

    private static RawRecord Record(Pipeline.Core.Records.Proto.Example example, long offset = 0) => new(example.ToByteArray(), 0, offset);

    private static byte[] RgbPng(int width, int height, Rgb24 colour)
    {
        using var image = new Image<Rgb24>(width, height, colour);
        using var buffer = new MemoryStream();
        image.SaveAsPng(buffer);
        return buffer.ToArray();
    }
}
