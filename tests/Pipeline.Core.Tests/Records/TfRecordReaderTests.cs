using System.Buffers.Binary;
using Pipeline.Core.Records;

namespace Pipeline.Core.Tests.Records;

public sealed class TfRecordReaderTests
{
    private const string DisplayPath = "artifacts/x/records/train-00000-of-00004.tfrecord";

    // Header: 8-byte length and its 4-byte CRC; the data's 4-byte CRC follows the data.
    private const int HeaderSize = 12;

    private static readonly byte[][] Records = ["first"u8.ToArray(), [], "the third record"u8.ToArray(), [0x00, 0xFF, 0x10]];

    // Each frame is 16 bytes plus its data: 0 + (16 + 5) = 21, 21 + (16 + 0) = 37, 37 + (16 + 16) = 69.
    private const int SecondOffset = 21;
    private const int ThirdOffset = 37;
    private const int FourthOffset = 69;

    [Fact]
    public void Records_written_are_read_back_in_order_with_their_offsets()
    {
        var read = ReadAll(new MemoryStream(Write(Records)));

        Assert.Equal(Records, read.Select(r => r.Data.ToArray()));
        Assert.Equal([0L, SecondOffset, ThirdOffset, FourthOffset], read.Select(r => r.Offset));
    }

    [Fact]
    public void Empty_file_has_no_records()
    {
        Assert.Empty(ReadAll(new MemoryStream()));
    }

    [Fact]
    public void Offsets_count_from_where_the_stream_starts()
    {
        var stream = new MemoryStream([0xAA, 0xBB, 0xCC, .. Write(Records)]);
        stream.Position = 3;

        Assert.Equal(3L, ReadAll(stream)[0].Offset);
    }

    [Fact]
    public void Flipped_data_byte_is_reported_with_file_and_offset()
    {
        var bytes = Write(Records);
        bytes[ThirdOffset + HeaderSize + 2] ^= 0x01;

        var error = ReadExpectingCorruption(bytes);

        Assert.Equal(ThirdOffset, error.Offset);
        Assert.StartsWith($"{DisplayPath}: record at byte {ThirdOffset}: data CRC mismatch (stored 0x", error.Message);
        Assert.EndsWith("the file is corrupt: rebuild it with --force", error.Message);
    }

    [Fact]
    public void Flipped_length_byte_is_reported_with_file_and_offset()
    {
        var bytes = Write(Records);
        bytes[SecondOffset] ^= 0x04;

        var error = ReadExpectingCorruption(bytes);

        Assert.Equal(SecondOffset, error.Offset);
        Assert.Contains($"{DisplayPath}: record at byte {SecondOffset}: length CRC mismatch", error.Message);
    }

    [Fact]
    public void Flipped_data_crc_byte_is_reported_as_a_data_crc_mismatch()
    {
        var bytes = Write(Records);
        bytes[SecondOffset + HeaderSize + 3] ^= 0x80;

        var error = ReadExpectingCorruption(bytes);

        Assert.Contains($"{DisplayPath}: record at byte {SecondOffset}: data CRC mismatch", error.Message);
    }

    [Fact]
    public void Truncated_header_is_reported_with_file_and_offset()
    {
        var bytes = Write(Records)[..(SecondOffset + 5)];

        var error = ReadExpectingCorruption(bytes);

        Assert.Equal(SecondOffset, error.Offset);
        Assert.Contains($"{DisplayPath}: record at byte {SecondOffset}: truncated header", error.Message);
    }

    [Fact]
    public void Truncated_data_is_reported_with_file_and_offset()
    {
        var bytes = Write(Records)[..(ThirdOffset + HeaderSize + 4)];

        var error = ReadExpectingCorruption(bytes);

        Assert.Equal(ThirdOffset, error.Offset);
        Assert.Contains($"{DisplayPath}: record at byte {ThirdOffset}: truncated record: the header declares 16 data bytes plus a 4-byte CRC, but only 4 bytes follow it", error.Message);
    }

    [Fact]
    public void Truncated_data_is_reported_on_a_stream_that_cannot_seek()
    {
        var bytes = Write(Records)[..^1];

        var error = Assert.Throws<TfRecordCorruptException>(() => ReadAll(new NonSeekableStream(bytes)));

        Assert.Equal(FourthOffset, error.Offset);
        Assert.Contains($"{DisplayPath}: record at byte {FourthOffset}: truncated record", error.Message);
    }

    [Fact]
    public void Truncated_large_record_is_reported_before_allocating_for_it()
    {
        var large = new byte[1_000_000];
        var bytes = Write([[1, 2, 3], large])[..100_000];

        var error = ReadExpectingCorruption(bytes);

        Assert.Equal(19L, error.Offset);
        Assert.Contains($"{DisplayPath}: record at byte 19: truncated record: the header declares 1000000 data bytes", error.Message);
    }

    [Fact]
    public void Absurd_length_with_a_valid_length_crc_is_reported_rather_than_allocated()
    {
        var header = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, 1UL << 40);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Crc32C.Mask(Crc32C.Compute(header.AsSpan(0, 8))));

        var error = Assert.Throws<TfRecordCorruptException>(() => ReadAll(new NonSeekableStream(header)));

        Assert.Equal(0L, error.Offset);
        Assert.Contains($"{DisplayPath}: record at byte 0: declared length of {1UL << 40} bytes is larger than any record", error.Message);
    }

    [Fact]
    public void Records_before_the_damage_are_still_returned()
    {
        var bytes = Write(Records);
        bytes[^1] ^= 0xFF;
        using var reader = new TfRecordReader(new MemoryStream(bytes), DisplayPath);

        for (var i = 0; i < Records.Length - 1; i++)
        {
            Assert.True(reader.TryRead(out var record));
            Assert.Equal(Records[i], record.Data.ToArray());
        }
        Assert.Throws<TfRecordCorruptException>(() => reader.TryRead(out _));
    }

    [Fact]
    public void Open_names_the_file_as_given_in_errors()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tfrecord-{Guid.NewGuid():N}.tfrecord");
        try
        {
            File.WriteAllBytes(path, Write(Records)[..^2]);
            using var reader = TfRecordReader.Open(path);

            var error = Assert.Throws<TfRecordCorruptException>(() => Drain(reader));

            Assert.Equal(path, error.Path);
            Assert.StartsWith($"{path}: record at byte {FourthOffset}: ", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Dispose_leaves_the_stream_open_when_asked()
    {
        var stream = new MemoryStream(Write(Records));
        new TfRecordReader(stream, DisplayPath, leaveOpen: true).Dispose();

        Assert.True(stream.CanRead);
    }

    private static byte[] Write(IEnumerable<byte[]> records)
    {
        var stream = new MemoryStream();
        using (var writer = new TfRecordWriter(stream, leaveOpen: true))
        {
            foreach (var record in records)
            {
                writer.Write(record);
            }
        }
        return stream.ToArray();
    }

    private static TfRecordCorruptException ReadExpectingCorruption(byte[] bytes)
    {
        var error = Assert.Throws<TfRecordCorruptException>(() => ReadAll(new MemoryStream(bytes)));
        Assert.Equal(DisplayPath, error.Path);
        return error;
    }

    /// <summary>Copies each record out, since the reader reuses its buffer.</summary>
    private static List<TfRecord> ReadAll(Stream stream)
    {
        using var reader = new TfRecordReader(stream, DisplayPath);
        return Drain(reader);
    }

    private static List<TfRecord> Drain(TfRecordReader reader)
    {
        var records = new List<TfRecord>();
        while (reader.TryRead(out var record))
        {
            records.Add(record with { Data = record.Data.ToArray() });
        }
        return records;
    }

    /// <summary>A stream that hands out a few bytes at a time and cannot seek, like a pipe or a network stream.</summary>
    private sealed class NonSeekableStream(byte[] bytes) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, 7), bytes.Length - _position);
            Array.Copy(bytes, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
