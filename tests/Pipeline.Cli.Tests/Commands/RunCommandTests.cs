using Pipeline.Cli.Tests.TestSupport;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

/// <summary>`pipeline run`'s arguments: each refusal is exit code 1 and one line, and nothing is built.</summary>
public sealed class RunCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _dataset;

    public RunCommandTests() => _dataset = TestDatasets.IdxDataset(_dir);

    public void Dispose() => _dir.Dispose();

    private PipelineCommand Run(params string[] args) =>
        PipelineCommand.Run(["run", .. args, "--root", _dir.Path, "--dataset", _dataset, "--cache", "off"]);

    private bool AnythingBuilt => Directory.Exists(_dir.Combine("artifacts/tiny/labels")) || Directory.Exists(_dir.Combine("artifacts/tiny/records"));

    [Fact]
    public void Missing_stage_is_refused_with_one_line()
    {
        var result = PipelineCommand.Run("run");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal(["Required argument missing for command: 'run'."], result.ErrorLines);
    }

    [Fact]
    public void Unknown_stage_exits_1_with_one_line_listing_the_stages()
    {
        var result = Run("frobnicate");

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: no stage named \"frobnicate\"; stages: labels, records, train", line);
        Assert.False(AnythingBuilt);
    }

    [Theory]
    [InlineData("--shard-index", "0")]
    [InlineData("--shard-count", "2")]
    public void Shard_index_and_shard_count_alone_are_refused(string option, string value)
    {
        var result = Run("records", option, value);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(["error: --shard-index and --shard-count go together: give both, or neither"], result.ErrorLines);
        Assert.False(AnythingBuilt);
    }

    [Fact]
    public void Sharding_a_stage_other_than_records_is_refused()
    {
        var result = Run("labels", "--shard-index", "0", "--shard-count", "2");

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: --shard-index and --shard-count split the Records stage among workers: use them with the Records target, not labels", line);
        Assert.False(AnythingBuilt);
    }

    [SmallDiskFact]
    public void Records_on_a_full_disk_exit_with_code_1_and_one_line_saying_the_disk_is_full()
    {
        using var disk = new SmallDisk(kilobytes: 256);
        string[] Stage(string stage) => ["run", stage, "--only", "--root", _dir.Path, "--dataset", _dataset, "--artifacts", disk.Path, "--cache", "off"];
        var labels = PipelineCommand.Run(Stage("labels"));
        Assert.True(labels.ExitCode == 0, labels.Error);
        disk.Fill();

        var result = PipelineCommand.Run(Stage("records"));

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Matches(@"^error: .+: the disk is full \(No space left on device\).*; free some space on that disk and run again$", line);
    }
}
