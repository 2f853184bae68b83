using Google.Protobuf;
using Pipeline.Core.Images;
using Pipeline.Core.Records.Proto;

namespace Pipeline.Core.Records;

/// <summary>Builds the tf.train.Example the reference JPEG-to-TFRecord converter writes for one image.</summary>
public static class ExampleBuilder
{
    /// <summary>The feature keys, exactly as the reference converter names them.</summary>
    public static readonly IReadOnlyList<string> Keys =
    [
        "image/channels", "image/class/label", "image/class/synset", "image/colorspace", "image/encoded",
        "image/filename", "image/format", "image/height", "image/width",
    ];

    public static Example Build(EncodedImage image, int classId, string label, string fileName)
    {
        // Inserted in sorted key order: protobuf writes map entries in insertion order, so the bytes are deterministic.
        var features = new Features();
        features.Feature.Add("image/channels", Int64(image.Channels));
        features.Feature.Add("image/class/label", Int64(classId));
        features.Feature.Add("image/class/synset", Bytes(ByteString.CopyFromUtf8(label)));
        features.Feature.Add("image/colorspace", Bytes(ByteString.CopyFromUtf8(image.Colorspace)));
        features.Feature.Add("image/encoded", Bytes(UnsafeByteOperations.UnsafeWrap(image.Bytes)));
        features.Feature.Add("image/filename", Bytes(ByteString.CopyFromUtf8(fileName)));
        features.Feature.Add("image/format", Bytes(ByteString.CopyFromUtf8(image.Format)));
        features.Feature.Add("image/height", Int64(image.Height));
        features.Feature.Add("image/width", Int64(image.Width));
        return new Example { Features = features };
    }

    private static Feature Int64(long value) => new() { Int64List = new Int64List { Value = { value } } };

    private static Feature Bytes(ByteString value) => new() { BytesList = new BytesList { Value = { value } } };
}
