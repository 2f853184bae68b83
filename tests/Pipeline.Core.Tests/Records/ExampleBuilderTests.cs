using Google.Protobuf;
using Pipeline.Core.Images;
using Pipeline.Core.Records;
using Snapshooter.Xunit;

namespace Pipeline.Core.Tests.Records;

public sealed class ExampleBuilderTests
{
    private static readonly EncodedImage Image = new(new byte[] { 0xFF, 0xD8, 0x01, 0x02, 0xFF, 0xD9 }, "JPEG", 320, 240, 3, "RGB");

    [Fact]
    public void Example_bytes_match_the_committed_snapshot()
    {
        var bytes = ExampleBuilder.Build(Image, 3, "sunflowers", "1022552002_2b93faf9e7_n.jpg").ToByteArray();

        // A changed snapshot means every shard changes: bump RecordsStage.ImplementationVersion with it.
        Snapshot.Match(new { hex = Convert.ToHexStringLower(bytes), json = ExampleJson.Format(new TfRecord(0, bytes), "x.tfrecord", fullBytes: false) });
    }

    [Fact]
    public void Example_holds_exactly_the_reference_converter_keys_with_their_values()
    {
        var example = ExampleBuilder.Build(Image, 3, "sunflowers", "a.jpg");
        var features = example.Features.Feature;

        Assert.Equal(ExampleBuilder.Keys, features.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(320, features["image/width"].Int64List.Value.Single());
        Assert.Equal(240, features["image/height"].Int64List.Value.Single());
        Assert.Equal(3, features["image/channels"].Int64List.Value.Single());
        Assert.Equal(3, features["image/class/label"].Int64List.Value.Single());
        Assert.Equal("sunflowers", features["image/class/synset"].BytesList.Value.Single().ToStringUtf8());
        Assert.Equal("RGB", features["image/colorspace"].BytesList.Value.Single().ToStringUtf8());
        Assert.Equal("JPEG", features["image/format"].BytesList.Value.Single().ToStringUtf8());
        Assert.Equal("a.jpg", features["image/filename"].BytesList.Value.Single().ToStringUtf8());
        Assert.Equal(Image.Bytes.ToArray(), features["image/encoded"].BytesList.Value.Single().ToByteArray());
    }

    [Fact]
    public void Same_example_always_serializes_to_the_same_bytes()
    {
        var first = ExampleBuilder.Build(Image, 1, "daisy", "a.jpg").ToByteArray();
        var second = ExampleBuilder.Build(Image, 1, "daisy", "a.jpg").ToByteArray();

        Assert.Equal(first, second);
    }
}
