using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;

namespace Pipeline.Core.Records;

/// <summary>Writes records to a stream in TensorFlow's (uncompressed) TFRecord framing.</summary>
/// <remarks>
/// Each record is [uint64 length][uint32 masked CRC-32C of the length][data][uint32 masked CRC-32C of the data],
/// little-endian. Records are staged in one pooled buffer so that small records cost no allocation and
/// the stream sees few large writes. Not thread-safe.
/// </remarks>
public sealed class TfRecordWriter : IDisposable
{
    internal const int HeaderSize = sizeof(ulong) + sizeof(uint);
    internal const int FooterSize = sizeof(uint);
    private const int BufferSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private byte[]? _buffer;
    private int _used;

    public TfRecordWriter(Stream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The stream must be writable.", nameof(stream));
        }
        _stream = stream;
        _leaveOpen = leaveOpen;
        _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    }

    /// <summary>Creates (or truncates) the file at <paramref name="path"/> and writes records to it.</summary>
    public static TfRecordWriter Create(string path) =>
        // The writer buffers itself; a second buffer in FileStream would only add a copy.
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0));

    /// <summary>Appends one record.</summary>
    public void Write(ReadOnlySpan<byte> record)
    {
        var buffer = StagingBuffer((long)HeaderSize + record.Length + FooterSize);
        if (buffer.IsEmpty)
        {
            WriteUnstaged(record);
            return;
        }
        record.CopyTo(buffer.Slice(HeaderSize, record.Length));
        Frame(buffer, record.Length);
    }

    /// <summary>Appends a serialized <see cref="Proto.Example"/> as one record.</summary>
    public void Write(Proto.Example example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var size = example.CalculateSize();
        var buffer = StagingBuffer((long)HeaderSize + size + FooterSize);
        if (!buffer.IsEmpty)
        {
            example.WriteTo(buffer.Slice(HeaderSize, size));
            Frame(buffer, size);
            return;
        }

        var rented = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var data = rented.AsSpan(0, size);
            example.WriteTo(data);
            WriteUnstaged(data);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Serializes an Example into one complete frame (header, data, footer), ready for <see cref="WriteFramed"/>,
    /// in an array rented from <paramref name="pool"/> (return it once written) or a new one.
    /// </summary>
    /// <remarks>
    /// Lets parallel workers do the serializing and checksumming, leaving only the ordered write to the one
    /// thread that owns the file: the data is copied once, straight into the frame. Renting matters: fresh
    /// memory for every 40 KB photo costs more in page faults than the copy itself.
    /// </remarks>
    public static ArraySegment<byte> Frame(Proto.Example example, ArrayPool<byte>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(example);
        var size = example.CalculateSize();
        var length = HeaderSize + size + FooterSize;
        var frame = pool?.Rent(length) ?? new byte[length];
        var data = frame.AsSpan(HeaderSize, size);
        example.WriteTo(data);
        WriteHeader(frame, size);
        WriteCrc(frame.AsSpan(HeaderSize + size), data);
        return new ArraySegment<byte>(frame, 0, length);
    }

    /// <summary>Appends a frame made by <see cref="Frame(Proto.Example, ArrayPool{byte}?)"/> as it is.</summary>
    public void WriteFramed(ReadOnlySpan<byte> frame)
    {
        // Big frames skip the staging copy; the staged ones before them go first to keep the order.
        var buffer = frame.Length >= BufferSize / 4 ? Span<byte>.Empty : StagingBuffer(frame.Length);
        if (buffer.IsEmpty)
        {
            FlushBuffer();
            _stream.Write(frame);
            return;
        }
        frame.CopyTo(buffer);
        _used += frame.Length;
    }

    /// <summary>Pushes staged records to the stream and flushes it.</summary>
    public void Flush()
    {
        FlushBuffer();
        _stream.Flush();
    }

    public void Dispose()
    {
        if (_buffer is null)
        {
            return;
        }
        try
        {
            Flush();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }
        }
    }

    /// <summary>
    /// Reserves <paramref name="frameSize"/> bytes of the staging buffer, flushing it first if they do not fit;
    /// empty when the frame is larger than the whole buffer.
    /// </summary>
    private Span<byte> StagingBuffer(long frameSize)
    {
        ObjectDisposedException.ThrowIf(_buffer is null, this);
        if (frameSize > _buffer.Length - _used)
        {
            FlushBuffer();
        }
        return frameSize <= _buffer.Length ? _buffer.AsSpan(_used, (int)frameSize) : Span<byte>.Empty;
    }

    /// <summary>Fills in the header and footer around data already placed in a staged frame.</summary>
    private void Frame(Span<byte> frame, int length)
    {
        WriteHeader(frame[..HeaderSize], length);
        WriteCrc(frame[(HeaderSize + length)..], frame.Slice(HeaderSize, length));
        _used += frame.Length;
    }

    private void WriteUnstaged(ReadOnlySpan<byte> record)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        WriteHeader(header, record.Length);
        Span<byte> footer = stackalloc byte[FooterSize];
        WriteCrc(footer, record);

        _stream.Write(header);
        _stream.Write(record);
        _stream.Write(footer);
    }

    private void FlushBuffer()
    {
        if (_used > 0)
        {
            _stream.Write(_buffer!, 0, _used);
            _used = 0;
        }
    }

    private static void WriteHeader(Span<byte> header, int length)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)length);
        WriteCrc(header[sizeof(ulong)..], header[..sizeof(ulong)]);
    }

    private static void WriteCrc(Span<byte> destination, ReadOnlySpan<byte> covered) =>
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Crc32C.Mask(Crc32C.Compute(covered)));
}
