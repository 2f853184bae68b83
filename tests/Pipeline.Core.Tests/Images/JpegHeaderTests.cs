using Pipeline.Core.Images;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Core.Tests.Images;

public sealed class JpegHeaderTests
{
    private static readonly byte[] StartOfImage = [0xFF, 0xD8];
    private static readonly byte[] EndOfImage = [0xFF, 0xD9];

    [Fact]
    public void Baseline_jpeg_from_ImageSharp_reads_its_size_components_and_precision()
    {
        var header = JpegHeader.TryRead(TestImages.Jpeg(40, 24));

        Assert.Equal(new JpegHeader(0xC0, Width: 40, Height: 24, Components: 3, Precision: 8, AdobeTransform: null, HasEndMarker: true), header);
        Assert.True(header!.Value.IsPassThroughRgb);
        Assert.False(header.Value.IsProgressive);
    }

    [Fact]
    public void Grayscale_jpeg_has_one_component_and_is_not_pass_through()
    {
        var header = JpegHeader.TryRead(TestImages.Jpeg(16, 8, JpegColorType.Luminance));

        Assert.Equal(1, header!.Value.Components);
        Assert.False(header.Value.IsPassThroughRgb);
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0xFF, 0xD8 })]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF })]
    [InlineData(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A })]
    [InlineData(new byte[] { (byte)'G', (byte)'I', (byte)'F', (byte)'8', (byte)'9', (byte)'a' })]
    public void Bytes_that_are_not_a_jpeg_read_as_null(byte[] bytes)
    {
        Assert.Null(JpegHeader.TryRead(bytes));
    }

    [Fact]
    public void Png_file_reads_as_null()
    {
        Assert.Null(JpegHeader.TryRead(TestImages.Png(4, 4, new Rgba32(1, 2, 3, 255))));
    }

    [Fact]
    public void Jpeg_cut_before_its_frame_header_reads_as_null()
    {
        var jpeg = TestImages.Jpeg(40, 24);
        var frame = TestImages.IndexOf(jpeg, [0xFF, 0xC0]);

        Assert.Null(JpegHeader.TryRead(jpeg[..frame]));
    }

    [Fact]
    public void Jpeg_cut_inside_its_frame_header_reads_as_null()
    {
        var jpeg = TestImages.Jpeg(40, 24);
        var frame = TestImages.IndexOf(jpeg, [0xFF, 0xC0]);

        Assert.Null(JpegHeader.TryRead(jpeg[..(frame + 7)]));
    }

    [Fact]
    public void Scan_before_any_frame_header_reads_as_null()
    {
        byte[] bytes = [.. StartOfImage, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0, 0x00, .. EndOfImage];

        Assert.Null(JpegHeader.TryRead(bytes));
    }

    [Fact]
    public void Segment_length_running_past_the_end_reads_as_null()
    {
        byte[] bytes = [.. StartOfImage, 0xFF, 0xE0, 0x10, 0x00, 1, 2, 3, .. EndOfImage];

        Assert.Null(JpegHeader.TryRead(bytes));
    }

    [Fact]
    public void Huffman_and_arithmetic_table_segments_before_the_frame_are_not_mistaken_for_it()
    {
        byte[] bytes =
        [
            .. StartOfImage,
            0xFF, 0xC4, 0x00, 0x08, 1, 2, 3, 4, 5, 6, // DHT
            0xFF, 0xCC, 0x00, 0x06, 1, 2, 3, 4, // DAC
            .. HandMadeJpeg.FrameSegment(0xC0, components: 3, width: 300, height: 200),
            .. EndOfImage,
        ];

        var header = JpegHeader.TryRead(bytes);

        Assert.Equal((0xC0, 300, 200, 3), (header!.Value.FrameMarker, header.Value.Width, header.Value.Height, header.Value.Components));
    }

    [Fact]
    public void Fill_bytes_before_a_marker_are_skipped()
    {
        byte[] bytes = [.. StartOfImage, 0xFF, 0xFF, .. HandMadeJpeg.FrameSegment(0xC0, components: 3, width: 5, height: 7), .. EndOfImage];

        var header = JpegHeader.TryRead(bytes);

        Assert.Equal((5, 7), (header!.Value.Width, header.Value.Height));
    }

    [Fact]
    public void Jpeg_without_its_end_marker_has_none_and_is_not_pass_through()
    {
        var jpeg = TestImages.Jpeg(40, 24);

        var header = JpegHeader.TryRead(jpeg[..^2]);

        Assert.False(header!.Value.HasEndMarker);
        Assert.False(header.Value.IsPassThroughRgb);
    }

    [Theory]
    [InlineData(new byte[] { 0x00 })]
    [InlineData(new byte[] { 0x0D, 0x0A })]
    [InlineData(new byte[] { 0x20, 0x00, 0xFF })]
    public void Padding_after_the_end_marker_still_counts_as_ending(byte[] padding)
    {
        byte[] jpeg = [.. TestImages.Jpeg(40, 24), .. padding];

        var header = JpegHeader.TryRead(jpeg);

        Assert.True(header!.Value.HasEndMarker);
        Assert.True(header.Value.IsPassThroughRgb);
    }

    [Fact]
    public void Trailer_after_the_end_marker_still_counts_as_an_end_marker()
    {
        byte[] jpeg = [.. TestImages.Jpeg(40, 24), (byte)'S', (byte)'E', (byte)'F', (byte)'T'];

        Assert.True(JpegHeader.TryRead(jpeg)!.Value.HasEndMarker);
    }

    [Theory]
    [InlineData(0xC2)]
    [InlineData(0xC6)]
    [InlineData(0xCA)]
    [InlineData(0xCE)]
    public void Progressive_frames_are_progressive_and_not_pass_through(byte frameMarker)
    {
        var header = JpegHeader.TryRead(Header(frameMarker, components: 3));

        Assert.True(header!.Value.IsProgressive);
        Assert.False(header.Value.IsPassThroughRgb);
    }

    [Fact]
    public void Hand_made_progressive_jpeg_reads_as_progressive_with_its_size()
    {
        var header = JpegHeader.TryRead(HandMadeJpeg.Flat(HandMadeJpeg.Progressive, [76, 85, 255], width: 24, height: 16));

        Assert.Equal(new JpegHeader(0xC2, Width: 24, Height: 16, Components: 3, Precision: 8, AdobeTransform: null, HasEndMarker: true), header);
        Assert.True(header!.Value.IsProgressive);
        Assert.False(header.Value.IsPassThroughRgb);
    }

    [Theory]
    [InlineData(0xC0)]
    [InlineData(0xC1)]
    public void Sequential_huffman_frames_of_three_8_bit_components_are_pass_through(byte frameMarker)
    {
        var header = JpegHeader.TryRead(Header(frameMarker, components: 3));

        Assert.False(header!.Value.IsProgressive);
        Assert.True(header.Value.IsPassThroughRgb);
    }

    [Theory]
    [InlineData(0xC3)] // lossless
    [InlineData(0xC5)] // differential sequential
    [InlineData(0xC9)] // arithmetic sequential
    public void Other_frame_kinds_are_read_but_not_pass_through(byte frameMarker)
    {
        var header = JpegHeader.TryRead(Header(frameMarker, components: 3));

        Assert.Equal(frameMarker, header!.Value.FrameMarker);
        Assert.False(header.Value.IsPassThroughRgb);
    }

    [Fact]
    public void Twelve_bit_jpeg_is_not_pass_through()
    {
        byte[] bytes = [.. StartOfImage, .. HandMadeJpeg.FrameSegment(0xC1, components: 3, width: 8, height: 8, precision: 12), .. EndOfImage];

        var header = JpegHeader.TryRead(bytes);

        Assert.Equal(12, header!.Value.Precision);
        Assert.False(header.Value.IsPassThroughRgb);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(0)]
    [InlineData(2)]
    public void Four_component_cmyk_or_ycck_jpeg_is_not_pass_through(int? adobeTransform)
    {
        var header = JpegHeader.TryRead(HandMadeJpeg.Flat(HandMadeJpeg.Baseline, [255, 0, 0, 255], width: 8, height: 8, adobeTransform));

        Assert.Equal(4, header!.Value.Components);
        Assert.Equal(adobeTransform, header.Value.AdobeTransform);
        Assert.False(header.Value.IsPassThroughRgb);
    }

    [Fact]
    public void Adobe_transform_1_marks_ycbcr_and_stays_pass_through()
    {
        var header = JpegHeader.TryRead(Header(0xC0, components: 3, HandMadeJpeg.AdobeSegment(1)));

        Assert.Equal(1, header!.Value.AdobeTransform);
        Assert.True(header.Value.IsPassThroughRgb);
    }

    [Fact]
    public void Adobe_transform_0_marks_rgb_coding_and_is_not_pass_through()
    {
        var header = JpegHeader.TryRead(Header(0xC0, components: 3, HandMadeJpeg.AdobeSegment(0)));

        Assert.Equal(0, header!.Value.AdobeTransform);
        Assert.False(header.Value.IsPassThroughRgb);
    }

    [Fact]
    public void ImageSharp_rgb_jpeg_carries_adobe_transform_0_and_is_not_pass_through()
    {
        var header = JpegHeader.TryRead(TestImages.Jpeg(16, 8, JpegColorType.Rgb));

        Assert.Equal(0, header!.Value.AdobeTransform);
        Assert.Equal(3, header.Value.Components);
        Assert.False(header.Value.IsPassThroughRgb);
    }

    [Fact]
    public void App14_segment_of_another_writer_or_too_short_is_ignored()
    {
        byte[] other = [0xFF, 0xEE, 0x00, 0x0E, .. "Adobx"u8, 0, 100, 0, 0, 0, 0, 0];
        byte[] tooShort = [0xFF, 0xEE, 0x00, 0x0D, .. "Adobe"u8, 0, 100, 0, 0, 0, 0];

        Assert.Null(JpegHeader.TryRead(Header(0xC0, components: 3, other))!.Value.AdobeTransform);
        Assert.Null(JpegHeader.TryRead(Header(0xC0, components: 3, tooShort))!.Value.AdobeTransform);
    }

    [Fact]
    public void Zero_height_frame_is_not_pass_through()
    {
        byte[] bytes = [.. StartOfImage, .. HandMadeJpeg.FrameSegment(0xC0, components: 3, width: 8, height: 0), .. EndOfImage];

        Assert.False(JpegHeader.TryRead(bytes)!.Value.IsPassThroughRgb);
    }

    /// <summary>Start of image, optional segments, a frame header of 40×30, end of image: all <see cref="JpegHeader"/> reads.</summary>
    private static byte[] Header(byte frameMarker, int components, params byte[] before) =>
        [.. StartOfImage, .. before, .. HandMadeJpeg.FrameSegment(frameMarker, components, width: 40, height: 30), .. EndOfImage];
}
