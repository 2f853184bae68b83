using System.Buffers.Binary;
using System.Runtime.ExceptionServices;
using Pipeline.Core.Records;

namespace Pipeline.Training.Input;

/// <summary>Counts the records of TFRecord shards by walking their frame headers, without reading the data.</summary>
internal static class RecordCounter
{
    private const int HeaderSize = sizeof(ulong) + sizeof(uint);
    private const int FooterSize = sizeof(uint);

    /// <summary>Records in each shard, counted in parallel; the first damaged shard (in list order) throws.</summary>
    public static int[] Count(IReadOnlyList<string> shards)
    {
        var counts = new int[shards.Count];
        var errors = new Exception?[shards.Count];
        Parallel.For(0, shards.Count, shard =>
        {
            try
            {
                counts[shard] = Count(shards[shard]);
            }
            catch (Exception e)
            {
                errors[shard] = e;
            }
        });
        if (errors.FirstOrDefault(e => e is not null) is { } error)
        {
            ExceptionDispatchInfo.Throw(error);
        }
        return counts;
    }

    /// <summary>Records in one shard; each length is trusted only once its CRC checks out.</summary>
    /// <exception cref="TfRecordCorruptException">A header is damaged or the file ends inside a record.</exception>
    public static int Count(string path)
    {
        // A small buffer: for small records the seeks stay inside it, for large ones little is read in vain.
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096, FileOptions.RandomAccess);
        var length = file.Length;
        Span<byte> header = stackalloc byte[HeaderSize];
        long offset = 0;
        var count = 0;
        while (offset < length)
        {
            if (length - offset < HeaderSize)
            {
                throw new TfRecordCorruptException(path, offset, $"truncated header: the file ends {length - offset} bytes into the {HeaderSize}-byte record header");
            }
            file.Position = offset;
            file.ReadExactly(header);
            var lengthBytes = header[..sizeof(ulong)];
            var storedCrc = Crc32C.Unmask(BinaryPrimitives.ReadUInt32LittleEndian(header[sizeof(ulong)..]));
            var computedCrc = Crc32C.Compute(lengthBytes);
            if (storedCrc != computedCrc)
            {
                throw new TfRecordCorruptException(path, offset, $"length CRC mismatch (stored 0x{storedCrc:x8}, computed 0x{computedCrc:x8})");
            }
            var dataLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            var left = length - offset - HeaderSize;
            if ((ulong)left < FooterSize || dataLength > (ulong)left - FooterSize)
            {
                throw new TfRecordCorruptException(path, offset, $"truncated record: the header declares {dataLength} data bytes plus a {FooterSize}-byte CRC, but only {left} bytes follow it");
            }
            offset += HeaderSize + (long)dataLength + FooterSize;
            count++;
        }
        return count;
    }
}
