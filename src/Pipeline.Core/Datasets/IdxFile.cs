using System.Buffers.Binary;
using System.IO.Compression;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>An MNIST-format IDX file (unsigned bytes), read whole; gzip is detected by its magic bytes, not the name.</summary>
public sealed class IdxFile
{
    private IdxFile(int[] dimensions, byte[] data)
    {
        Dimensions = dimensions;
        Data = data;
    }

    /// <summary>Sizes of each dimension: [count] for labels, [count, rows, columns] for images.</summary>
    public IReadOnlyList<int> Dimensions { get; }

    public byte[] Data { get; }

    public int Count => Dimensions[0];

    public static IdxFile Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
            if (bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
            {
                using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                gzip.CopyTo(plain);
                bytes = plain.ToArray();
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new PipelineException("IDX file not found", path, e);
        }
        catch (InvalidDataException e)
        {
            throw new PipelineException($"gzip data is corrupt ({e.Message}); fetch the file again", path, e);
        }

        if (bytes.Length < 4 || bytes[0] != 0 || bytes[1] != 0)
        {
            throw new PipelineException("not an IDX file (the first two bytes must be zero)", path);
        }
        if (bytes[2] != 0x08)
        {
            throw new PipelineException($"IDX element type 0x{bytes[2]:x2} is not supported; only unsigned bytes (0x08) are", path);
        }
        var rank = bytes[3];
        var header = 4 + 4 * rank;
        if (rank == 0 || bytes.Length < header)
        {
            throw new PipelineException($"IDX header is truncated ({bytes.Length} bytes, rank {rank})", path);
        }
        var dimensions = new int[rank];
        long expected = 1;
        for (var i = 0; i < rank; i++)
        {
            dimensions[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (dimensions[i] < 0)
            {
                throw new PipelineException($"IDX dimension {i} is negative ({dimensions[i]})", path);
            }
            expected *= dimensions[i];
        }
        if (bytes.Length - header != expected)
        {
            throw new PipelineException(
                $"IDX data is {bytes.Length - header} bytes but the header ({string.Join(" × ", dimensions)}) promises {expected}; the file is truncated or corrupt",
                path);
        }
        return new IdxFile(dimensions, bytes[header..]);
    }
}
