using Google.Protobuf;
using Pipeline.Core.Records;
using Pipeline.Core.Records.Proto;

namespace Pipeline.Core.Tests.Records;

public sealed class TfRecordWriterTests
{
    [Fact]
    public void Small_record_has_the_exact_TFRecord_byte_layout()
    {
        // Worked out by hand: crc32c(05 00 00 00 00 00 00 00) = 0xE4094DC0, masked 0x3E04B2EA;
        // crc32c("hello") = 0x9A71BB4C, masked 0x191C1FBB; all fields little-endian.
        byte[] expected =
        [
            0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0xEA, 0xB2, 0x04, 0x3E,
            (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o',
            0xBB, 0x1F, 0x1C, 0x19,
        ];

        Assert.Equal(expected, WriteAll(w => w.Write("hello"u8)));
    }

    [Fact]
    public void Empty_record_is_a_header_and_the_masked_crc_of_nothing()
    {
        // crc32c of eight zero bytes = 0x8C28B28A, masked 0x07980329; crc32c of nothing = 0, masked 0xA282EAD8.
        byte[] expected =
        [
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x29, 0x03, 0x98, 0x07,
            0xD8, 0xEA, 0x82, 0xA2,
        ];

        Assert.Equal(expected, WriteAll(w => w.Write(ReadOnlySpan<byte>.Empty)));
    }

    [Fact]
    public void Writing_an_example_writes_its_serialized_bytes()
    {
        var example = SampleExample();

        var viaExample = WriteAll(w => w.Write(example));
        var viaBytes = WriteAll(w => w.Write(example.ToByteArray()));

        Assert.Equal(viaBytes, viaExample);
    }

    [Fact]
    public void Framed_example_written_as_is_matches_writing_the_example()
    {
        var small = SampleExample();
        var large = new Example { Features = new Features() };
        large.Features.Feature["image/encoded"] = new Feature { BytesList = new BytesList { Value = { ByteString.CopyFrom(RandomBytes(300_000, seed: 5)) } } };

        var framed = WriteAll(w =>
        {
            w.WriteFramed(TfRecordWriter.Frame(small));
            w.WriteFramed(TfRecordWriter.Frame(large, System.Buffers.ArrayPool<byte>.Shared));
            w.WriteFramed(TfRecordWriter.Frame(small, System.Buffers.ArrayPool<byte>.Shared));
        });
        var direct = WriteAll(w =>
        {
            w.Write(small);
            w.Write(large);
            w.Write(small);
        });

        Assert.Equal(direct, framed);
    }

    [Fact]
    public void Example_larger_than_the_staging_buffer_is_written_intact()
    {
        var example = new Example { Features = new Features() };
        example.Features.Feature["image/encoded"] = new Feature { BytesList = new BytesList { Value = { ByteString.CopyFrom(RandomBytes(300_000, seed: 3)) } } };

        var viaExample = WriteAll(w => w.Write(example));
        var viaBytes = WriteAll(w => w.Write(example.ToByteArray()));

        Assert.Equal(viaBytes, viaExample);
    }

    [Fact]
    public void Records_larger_than_the_staging_buffer_keep_their_order_among_small_ones()
    {
        byte[][] records = [RandomBytes(10, 1), RandomBytes(200_000, 2), RandomBytes(70_000, 3), [], RandomBytes(65_536 - 16, 4), RandomBytes(5, 5)];

        var bytes = WriteAll(w =>
        {
            foreach (var record in records)
            {
                w.Write(record);
            }
        });

        Assert.Equal(records.Sum(r => r.Length + 16L), bytes.Length);
        using var reader = new TfRecordReader(new MemoryStream(bytes), "memory");
        foreach (var expected in records)
        {
            Assert.True(reader.TryRead(out var record));
            Assert.Equal(expected, record.Data.ToArray());
        }
        Assert.False(reader.TryRead(out _));
    }

    [Fact]
    public void Dispose_flushes_and_leaves_the_stream_open_when_asked()
    {
        var stream = new MemoryStream();
        using (var writer = new TfRecordWriter(stream, leaveOpen: true))
        {
            writer.Write("hello"u8);
            Assert.Equal(0, stream.Length);
        }

        Assert.Equal(21, stream.Length);
        Assert.True(stream.CanWrite);
    }

    [Fact]
    public void Dispose_closes_the_stream_by_default()
    {
        var stream = new MemoryStream();
        new TfRecordWriter(stream).Dispose();

        Assert.False(stream.CanWrite);
    }

    [Fact]
    public void Writing_after_dispose_throws()
    {
        var writer = new TfRecordWriter(new MemoryStream());
        writer.Dispose();

        Assert.Throws<ObjectDisposedException>(() => writer.Write("x"u8));
    }

    [Fact]
    public void Create_writes_a_file_that_Open_reads_back()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tfrecord-{Guid.NewGuid():N}.tfrecord");
        try
        {
            using (var writer = TfRecordWriter.Create(path))
            {
                writer.Write(SampleExample());
            }

            using var reader = TfRecordReader.Open(path);
            Assert.True(reader.TryRead(out var record));
            Assert.Equal(SampleExample(), Example.Parser.ParseFrom(record.Data.Span));
            Assert.False(reader.TryRead(out _));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Example SampleExample()
    {
        var example = new Example { Features = new Features() };
        example.Features.Feature["label"] = new Feature { Int64List = new Int64List { Value = { 7 } } };
        example.Features.Feature["weights"] = new Feature { FloatList = new FloatList { Value = { 0.5f, 1.5f } } };
        example.Features.Feature["name"] = new Feature { BytesList = new BytesList { Value = { ByteString.CopyFromUtf8("seven") } } };
        return example;
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] WriteAll(Action<TfRecordWriter> write)
    {
        var stream = new MemoryStream();
        using (var writer = new TfRecordWriter(stream, leaveOpen: true))
        {
            write(writer);
        }
        return stream.ToArray();
    }
}
