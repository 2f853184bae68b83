using Google.Protobuf;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Records;

namespace Pipeline.Core.Tests.Records;

public sealed class ExampleJsonTests
{
    private static readonly byte[] Record = ExampleBuilder.Build(
        new EncodedImage(new byte[] { 0xFF, 0xD8, 0x00, 0x9F, 0xFF, 0xD9 }, "JPEG", 2, 1, 3, "RGB"), 2, "roses", "r.jpg").ToByteArray();

    [Fact]
    public void Text_values_print_as_strings_and_binary_values_as_length_and_sha256_prefix()
    {
        var line = ExampleJson.Format(new TfRecord(40, Record), "x.tfrecord", fullBytes: false);

        Assert.Contains("\"offset\":40", line);
        Assert.Contains("\"image/class/synset\":[\"roses\"]", line);
        Assert.Contains("\"image/class/label\":[2]", line);
        Assert.Contains("\"image/encoded\":[{\"length\":6,\"sha256\":\"", line);
    }

    [Fact]
    public void Full_bytes_option_prints_binary_values_as_base64()
    {
        var line = ExampleJson.Format(new TfRecord(0, Record), "x.tfrecord", fullBytes: true);

        Assert.Contains($"\"image/encoded\":[{{\"base64\":\"{Convert.ToBase64String([0xFF, 0xD8, 0x00, 0x9F, 0xFF, 0xD9])}\"}}]", line);
    }

    [Fact]
    public void Record_that_is_not_an_example_is_reported_with_file_and_offset()
    {
        var error = Assert.Throws<PipelineException>(() => ExampleJson.Format(new TfRecord(123, new byte[] { 0xFF, 0xFF, 0xFF }), "bad.tfrecord", false));

        Assert.StartsWith("bad.tfrecord: record at byte 123 is not a tf.train.Example", error.Message);
    }
}
