using Pipeline.Core.Records;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Input;

namespace Pipeline.Training.Tests.Input;

public sealed class RecordCounterTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Counts_every_record_of_every_size()
    {
        var path = RecordFixtures.WriteRecords(_dir.Combine("a"), [[], new byte[5], new byte[70_000], new byte[1], new byte[4095]]);
        var empty = RecordFixtures.WriteRecords(_dir.Combine("b"), []);

        Assert.Equal([5, 0], RecordCounter.Count([path, empty]));
    }

    [Fact]
    public void A_damaged_length_is_reported_with_its_offset()
    {
        var path = RecordFixtures.WriteRecords(_dir.Combine("a"), [new byte[5], new byte[5]]);
        var bytes = File.ReadAllBytes(path);
        bytes[21 + 2] ^= 1;
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<TfRecordCorruptException>(() => RecordCounter.Count(path));

        Assert.Equal(21, error.Offset);
        Assert.Contains("length CRC mismatch", error.Message);
    }

    [Fact]
    public void A_file_ending_inside_a_header_is_reported()
    {
        var path = RecordFixtures.WriteRecords(_dir.Combine("a"), [new byte[5], new byte[5]]);
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..30]);

        var error = Assert.Throws<TfRecordCorruptException>(() => RecordCounter.Count(path));

        Assert.Equal(21, error.Offset);
        Assert.Contains("truncated header", error.Message);
    }
}
