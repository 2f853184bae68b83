using Pipeline.Core.Records;
using Pipeline.Core.Records.Proto;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Records;

/// <summary>Checks our reader and writer against a file TensorFlow wrote (see Fixtures/README.md).</summary>
public sealed class TensorFlowCompatibilityTests
{
    private const string FixtureName = "squad_validation_small.tfrecord";

    [Fact]
    public void Every_record_TensorFlow_wrote_is_read_with_valid_checksums()
    {
        var records = ReadFixture();

        Assert.Equal(50, records.Count);
        Assert.Equal(0L, records[0].Offset);
        Assert.Equal(827, records[0].Data.Length);
        Assert.Equal(49_478L, records[^1].Offset);
        Assert.Equal(new FileInfo(FixturePath()).Length, records[^1].Offset + 16 + records[^1].Data.Length);
    }

    [Fact]
    public void Every_record_is_a_SQuAD_example_with_the_same_feature_keys()
    {
        string[] keys = ["answers/answer_start", "answers/text", "context", "id", "question", "title"];

        foreach (var record in ReadFixture())
        {
            var example = Example.Parser.ParseFrom(record.Data.Span);
            Assert.Equal(keys, example.Features.Feature.Keys.Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public void First_example_holds_the_known_SQuAD_question()
    {
        var features = Example.Parser.ParseFrom(ReadFixture()[0].Data.Span).Features.Feature;

        Assert.Equal("572975a3af94a219006aa468", features["id"].BytesList.Value.Single().ToStringUtf8());
        Assert.Equal("Chloroplast", features["title"].BytesList.Value.Single().ToStringUtf8());
        Assert.Equal("How many G3P molecules leave the cycle?", features["question"].BytesList.Value.Single().ToStringUtf8());
        Assert.Equal([479L, 483L, 479L], features["answers/answer_start"].Int64List.Value);
    }

    [Fact]
    public void Rewriting_the_records_with_our_writer_reproduces_TensorFlow_bytes_exactly()
    {
        var stream = new MemoryStream();
        using (var writer = new TfRecordWriter(stream, leaveOpen: true))
        {
            foreach (var record in ReadFixture())
            {
                writer.Write(record.Data.Span);
            }
        }

        Assert.Equal(File.ReadAllBytes(FixturePath()), stream.ToArray());
    }

    private static List<TfRecord> ReadFixture()
    {
        using var reader = TfRecordReader.Open(FixturePath());
        var records = new List<TfRecord>();
        while (reader.TryRead(out var record))
        {
            records.Add(record with { Data = record.Data.ToArray() });
        }
        return records;
    }

    /// <summary>
    /// The copy beside the test assembly when the project copies fixtures to the output; otherwise the
    /// source tree's, found by walking up to the directory holding Pipeline.sln.
    /// </summary>
    private static string FixturePath()
    {
        var copied = Path.Combine(AppContext.BaseDirectory, "Records", "Fixtures", FixtureName);
        if (File.Exists(copied))
        {
            return copied;
        }

        return Path.Combine(Repository.Root, "tests", "Pipeline.Core.Tests", "Records", "Fixtures", FixtureName);
    }
}
