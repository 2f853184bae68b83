using System.Buffers.Binary;
using System.IO.Compression;

namespace Pipeline.Core.Tests.TestSupport;

/// <summary>MNIST-format IDX files as bytes, for fixtures written in code.</summary>
internal static class IdxBytes
{
    /// <summary>An IDX file: two zero bytes, the element type (0x08: unsigned bytes), the rank, big-endian sizes, the data.</summary>
    internal static byte[] Idx(int[] dimensions, byte[] data, byte type = 0x08)
    {
        var bytes = new byte[4 + 4 * dimensions.Length + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)dimensions.Length;
        for (var i = 0; i < dimensions.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dimensions[i]);
        }
        data.CopyTo(bytes, 4 + 4 * dimensions.Length);
        return bytes;
    }

    internal static byte[] Gzip(byte[] bytes)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(bytes);
        }
        return buffer.ToArray();
    }
}
