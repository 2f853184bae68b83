using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Pipeline.Core.Engine;

namespace Pipeline.Training.Transfer;

/// <summary>
/// bottlenecks/&lt;split&gt;.bottlenecks: one split's bottlenecks with their 0-based labels, in the records' order.
/// Layout (little-endian): "PIPEBNS1", int32 count, int32 dimension, count int32 labels, count × dimension float32.
/// </summary>
public sealed class BottleneckSet
{
    private static readonly byte[] Magic = "PIPEBNS1"u8.ToArray();
    private const int HeaderSize = 16;

    private BottleneckSet(int dimension, int[] labels, float[] values)
    {
        Dimension = dimension;
        Labels = labels;
        Values = values;
    }

    public int Count => Labels.Length;

    public int Dimension { get; }

    /// <summary>Each example's class: its line in labels.txt, from 0.</summary>
    public int[] Labels { get; }

    /// <summary>Count × Dimension values, one example after another.</summary>
    public float[] Values { get; }

    public static string FileName(string split) => $"{split}.bottlenecks";

    public static void Write(string path, int dimension, IReadOnlyList<int> labels, IReadOnlyList<float[]> values)
    {
        if (labels.Count != values.Count || values.Any(v => v.Length != dimension))
        {
            throw new ArgumentException($"{labels.Count} labels and {values.Count} bottlenecks, each of {dimension} values, were expected");
        }
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        Span<byte> header = stackalloc byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], labels.Count);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], dimension);
        file.Write(header);
        file.Write(MemoryMarshal.AsBytes(labels.ToArray().AsSpan()));
        foreach (var row in values)
        {
            file.Write(MemoryMarshal.AsBytes(row.AsSpan()));
        }
    }

    /// <exception cref="PipelineException">Missing, not a bottleneck file, or cut short; the message says to rebuild.</exception>
    public static BottleneckSet Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"cannot read the bottlenecks ({e.Message}); rebuild them with --target=Bottlenecks", path, e);
        }
        if (bytes.Length < HeaderSize || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new PipelineException("not a bottlenecks file; rebuild it with --target=Bottlenecks --force", path);
        }
        var count = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        var dimension = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        var expected = HeaderSize + (long)count * sizeof(int) + (long)count * dimension * sizeof(float);
        if (count < 0 || dimension < (count > 0 ? 1 : 0) || bytes.Length != expected)
        {
            throw new PipelineException($"{bytes.Length} bytes, but {count} bottlenecks of {dimension} values take {expected}; rebuild with --target=Bottlenecks --force", path);
        }
        var labels = MemoryMarshal.Cast<byte, int>(bytes.AsSpan(HeaderSize, count * sizeof(int))).ToArray();
        var values = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(HeaderSize + count * sizeof(int))).ToArray();
        return new BottleneckSet(dimension, labels, values);
    }
}
