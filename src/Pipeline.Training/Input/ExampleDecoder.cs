using System.Runtime.CompilerServices;
using Google.Protobuf;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Records.Proto;

namespace Pipeline.Training.Input;

/// <summary>Turns one serialized tf.train.Example into normalized CHW floats and a 0-based label. Not thread-safe: one per worker.</summary>
internal sealed class ExampleDecoder
{
    private const string EncodedKey = "image/encoded";
    private const string LabelKey = "image/class/label";

    private readonly InputSpec _input;
    private readonly float[][] _levels;
    private readonly byte[] _pixels;
    private readonly GrayPngDecoder _png = new();
    private readonly InputImageDecoder _imageDecoder;

    public ExampleDecoder(InputSpec input)
    {
        _input = input;
        _levels = NormalizedLevels(input);
        _pixels = new byte[input.Size * input.Size * input.Channels];
        _imageDecoder = new InputImageDecoder(input);
    }

    /// <summary>
    /// Writes the record's image into <paramref name="destination"/> (Channels · Size · Size floats, CHW) and
    /// returns its class index (image/class/label − 1).
    /// </summary>
    /// <param name="shardPath">The record's shard, as error messages name it.</param>
    /// <exception cref="PipelineException">The record is not an Example, lacks a key, or its image cannot be decoded.</exception>
    public long Decode(RawRecord record, string shardPath, Span<float> destination, Augmentation augmentation)
    {
        var (encoded, label) = Parse(record, shardPath);
        var channels = Load(encoded, record, shardPath);
        Write(_pixels, channels, _input.Size, _levels, augmentation, destination);
        return label - 1;
    }

    /// <summary>Per channel, the normalized value of each 8-bit level: (level / 255 − mean) / std.</summary>
    internal static float[][] NormalizedLevels(InputSpec input) => InputImageDecoder.NormalizedLevels(input);

    /// <summary>
    /// Writes Size × Size pixels (HWC bytes, 1 or 3 channels) as normalized CHW floats, mirrored then shifted; pixels
    /// shifted in from outside are black, i.e. level 0. A 1-channel source fills every output channel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs per pixel: not worth seconds in unoptimized code first
    internal static void Write(ReadOnlySpan<byte> pixels, int sourceChannels, int size, float[][] levels, Augmentation augmentation, Span<float> destination)
    {
        var plane = size * size;
        for (var c = 0; c < levels.Length; c++)
        {
            var level = levels[c];
            var black = level[0];
            var from = sourceChannels == 1 ? 0 : c;
            var output = destination.Slice(c * plane, plane);
            if (augmentation == Augmentation.None)
            {
                for (var i = 0; i < plane; i++)
                {
                    output[i] = level[pixels[i * sourceChannels + from]];
                }
                continue;
            }
            for (var y = 0; y < size; y++)
            {
                var row = output.Slice(y * size, size);
                var sourceY = y - augmentation.Dy;
                if ((uint)sourceY >= (uint)size)
                {
                    row.Fill(black);
                    continue;
                }
                for (var x = 0; x < size; x++)
                {
                    var shiftedX = x - augmentation.Dx;
                    if ((uint)shiftedX >= (uint)size)
                    {
                        row[x] = black;
                        continue;
                    }
                    var sourceX = augmentation.Flip ? size - 1 - shiftedX : shiftedX;
                    row[x] = level[pixels[(sourceY * size + sourceX) * sourceChannels + from]];
                }
            }
        }
    }

    /// <summary>Decodes with ImageSharp alone, as every image but the fast path's is (and as serving does); for tests to compare against.</summary>
    internal int LoadWithImageSharp(ReadOnlySpan<byte> encoded, string name = "image")
    {
        var channels = _imageDecoder.DecodePixels(encoded, name);
        _imageDecoder.Pixels.CopyTo(_pixels);
        return channels;
    }

    /// <summary>The pixels the last load left: Size × Size × (1 or 3) bytes, HWC.</summary>
    internal ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>The image bytes and 1-based label of a record, or an error naming the shard and byte offset.</summary>
    internal static (ReadOnlyMemory<byte> Encoded, long Label) Parse(RawRecord record, string shardPath)
    {
        Example example;
        try
        {
            example = Example.Parser.ParseFrom(record.Data);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw Error(record, shardPath, $"not a tf.train.Example ({e.Message}); the shard is damaged or was not written by the Records stage: rebuild it with --force", e);
        }

        var features = example.Features?.Feature;
        if (features is null || !features.TryGetValue(EncodedKey, out var encoded) || encoded.BytesList is not { Value.Count: > 0 } bytes)
        {
            throw Error(record, shardPath, $"the Example has no {EncodedKey} bytes; rebuild the shard with --force");
        }
        if (!features.TryGetValue(LabelKey, out var label) || label.Int64List is not { Value.Count: > 0 } labels)
        {
            throw Error(record, shardPath, $"the Example has no {LabelKey} integer; rebuild the shard with --force");
        }
        if (labels.Value[0] < 1)
        {
            throw Error(record, shardPath, $"{LabelKey} is {labels.Value[0]}, but labels count from 1 (line numbers of labels.txt); rebuild the shard with --force");
        }
        return (bytes.Value[0].Memory, labels.Value[0]);
    }

    /// <summary>Decodes into <see cref="_pixels"/> and returns how many channels it holds (1 or 3).</summary>
    private int Load(ReadOnlyMemory<byte> encoded, RawRecord record, string shardPath)
    {
        if (_png.TryDecode(encoded, _input.Size, _pixels))
        {
            return 1;
        }
        try
        {
            return LoadWithImageSharp(encoded.Span, EncodedKey);
        }
        catch (BadImageException e)
        {
            throw Error(record, shardPath, $"{EncodedKey}: {e.Problem}; rebuild the shard with --force, or check the source image", e);
        }
    }

    private static PipelineException Error(RawRecord record, string shardPath, string problem, Exception? inner = null) =>
        new($"record at byte {record.Offset}: {problem}", shardPath, inner);
}
