using System.Text;
using Pipeline.Core.Records;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Input;

namespace Pipeline.Training.Tests.Input;

public sealed class ShardInterleaverTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Shard(string name, int count) =>
        RecordFixtures.WriteRecords(_dir.Combine(name), Enumerable.Range(0, count).Select(i => Encoding.ASCII.GetBytes($"{name[0]}{i}")));

    [Fact]
    public void Records_alternate_one_at_a_time_and_a_shard_that_runs_out_drops_out()
    {
        string[] shards = [Shard("a", 3), Shard("b", 1), Shard("c", 4), Shard("d", 0)];

        var records = ShardInterleaver.Read(shards, CancellationToken.None).ToList();

        Assert.Equal(["a0", "b0", "c0", "a1", "c1", "a2", "c2", "c3"], records.Select(r => Encoding.ASCII.GetString(r.Data)));
        Assert.Equal([0, 1, 2, 0, 2, 0, 2, 2], records.Select(r => r.Shard));
        Assert.Equal([0L, 0, 0, 18, 18, 36, 36, 54], records.Select(r => r.Offset));
    }

    [Fact]
    public void Many_records_come_through_in_order_past_the_read_ahead()
    {
        string[] shards = [Shard("a", 500), Shard("b", 500)];

        var records = ShardInterleaver.Read(shards, CancellationToken.None).Select(r => Encoding.ASCII.GetString(r.Data)).ToList();

        Assert.Equal(Enumerable.Range(0, 500).SelectMany(i => new[] { $"a{i}", $"b{i}" }), records);
    }

    [Fact]
    public void A_missing_shard_is_reported()
    {
        string[] shards = [Shard("a", 2), _dir.Combine("missing")];

        Assert.Throws<FileNotFoundException>(() => ShardInterleaver.Read(shards, CancellationToken.None).ToList());
    }

    [Fact]
    public void A_damaged_shard_is_reported_after_the_records_before_the_damage()
    {
        var path = Shard("a", 3);
        var bytes = File.ReadAllBytes(path);
        bytes[18 + 12] ^= 1; // the second record's data
        File.WriteAllBytes(path, bytes);
        var seen = new List<string>();

        var error = Assert.Throws<TfRecordCorruptException>(() =>
        {
            foreach (var record in ShardInterleaver.Read([path], CancellationToken.None))
            {
                seen.Add(Encoding.ASCII.GetString(record.Data));
            }
        });

        Assert.Equal(["a0"], seen);
        Assert.Equal(18, error.Offset);
    }
}
