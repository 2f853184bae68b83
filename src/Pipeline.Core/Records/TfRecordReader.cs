using System.Buffers.Binary;

namespace Pipeline.Core.Records;

/// <summary>Reads TFRecord files (ours or TensorFlow's), verifying both checksums of every record.</summary>
/// <remarks>
/// Any damage (a checksum mismatch, a file that ends inside a record, an impossible length) throws
/// <see cref="TfRecordCorruptException"/> naming the file and the record's byte offset; only an end of
/// file exactly between records ends the sequence. Not thread-safe.
/// </remarks>
public sealed class TfRecordReader : IDisposable
{
    /// <summary>
    /// The longest record accepted: its data and CRC must fit in one .NET array. A longer length is
    /// reported as corruption instead of being attempted as an allocation.
    /// </summary>
    public static readonly int MaxRecordLength = Array.MaxLength - TfRecordWriter.FooterSize;

    private const int InitialBufferSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly string _path;
    private readonly bool _leaveOpen;
    private byte[] _buffer = new byte[InitialBufferSize];
    private long _position;
    private bool _disposed;

    /// <param name="path">How to name the file in error messages, e.g. relative to the repository root.</param>
    public TfRecordReader(Stream stream, string path, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(path);
        if (!stream.CanRead)
        {
            throw new ArgumentException("The stream must be readable.", nameof(stream));
        }
        _stream = stream;
        _path = path;
        _leaveOpen = leaveOpen;
        _position = stream.CanSeek ? stream.Position : 0;
    }

    /// <summary>Opens the file at <paramref name="path"/>; errors name it as given.</summary>
    public static TfRecordReader Open(string path) =>
        new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, InitialBufferSize, FileOptions.SequentialScan), path);

    /// <summary>Reads the next record; false at a clean end of file.</summary>
    /// <remarks><see cref="TfRecord.Data"/> is only valid until the next call: the buffer is reused.</remarks>
    /// <exception cref="TfRecordCorruptException">The record is damaged or cut short.</exception>
    public bool TryRead(out TfRecord record)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var offset = _position;

        Span<byte> header = stackalloc byte[TfRecordWriter.HeaderSize];
        var got = _stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (got == 0)
        {
            record = default;
            return false;
        }
        if (got < header.Length)
        {
            throw Corrupt(offset, $"truncated header: the file ends {got} bytes into the {header.Length}-byte record header");
        }

        // The length is only trusted (for allocation or for finding the next record) once its own CRC checks out.
        var lengthBytes = header[..sizeof(ulong)];
        var storedLengthCrc = Crc32C.Unmask(BinaryPrimitives.ReadUInt32LittleEndian(header[sizeof(ulong)..]));
        var computedLengthCrc = Crc32C.Compute(lengthBytes);
        if (storedLengthCrc != computedLengthCrc)
        {
            throw Corrupt(offset, $"length CRC mismatch (stored 0x{storedLengthCrc:x8}, computed 0x{computedLengthCrc:x8})");
        }

        var length = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (length > (ulong)MaxRecordLength)
        {
            throw Corrupt(offset, $"declared length of {length} bytes is larger than any record this reader accepts ({MaxRecordLength} bytes)");
        }

        var bodySize = (int)length + TfRecordWriter.FooterSize;
        if (bodySize > _buffer.Length)
        {
            // Check what is left before growing the buffer, so a cut-off file never costs a huge allocation.
            if (_stream.CanSeek && _stream.Length - _stream.Position < bodySize)
            {
                throw Truncated(offset, length, _stream.Length - _stream.Position);
            }
            _buffer = new byte[Math.Max(bodySize, (int)Math.Min(2L * _buffer.Length, Array.MaxLength))];
        }

        var body = _buffer.AsSpan(0, bodySize);
        got = _stream.ReadAtLeast(body, bodySize, throwOnEndOfStream: false);
        if (got < bodySize)
        {
            throw Truncated(offset, length, got);
        }

        var data = body[..(int)length];
        var storedDataCrc = Crc32C.Unmask(BinaryPrimitives.ReadUInt32LittleEndian(body[(int)length..]));
        var computedDataCrc = Crc32C.Compute(data);
        if (storedDataCrc != computedDataCrc)
        {
            throw Corrupt(offset, $"data CRC mismatch (stored 0x{storedDataCrc:x8}, computed 0x{computedDataCrc:x8})");
        }

        _position += TfRecordWriter.HeaderSize + bodySize;
        record = new TfRecord(offset, _buffer.AsMemory(0, (int)length));
        return true;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    private TfRecordCorruptException Truncated(long offset, ulong length, long bytesLeft) =>
        Corrupt(offset, $"truncated record: the header declares {length} data bytes plus a {TfRecordWriter.FooterSize}-byte CRC, but only {bytesLeft} bytes follow it");

    private TfRecordCorruptException Corrupt(long offset, string problem) => new(_path, offset, problem);
}
