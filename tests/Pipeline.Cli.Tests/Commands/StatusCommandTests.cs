using Pipeline.Cli.Tests.TestSupport;
using Pipeline.Core.Build;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

/// <summary>`pipeline status` on a dataset that is there and on one that is not.</summary>
public sealed class StatusCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Status_of_a_missing_dataset_exits_1_with_one_line_naming_it()
    {
        TestDatasets.IdxDataset(_dir);

        var result = PipelineCommand.Run("status", "--root", _dir.Path, "--dataset", "nosuch");

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: no dataset named \"nosuch\"", line);
        Assert.EndsWith("known datasets: tiny", line);
    }

    [Fact]
    public void Status_of_a_dataset_never_built_exits_0_with_a_line_per_stage()
    {
        var name = TestDatasets.IdxDataset(_dir);

        var result = PipelineCommand.Run("status", "--root", _dir.Path, "--dataset", name);

        Assert.Equal(0, result.ExitCode);
        Assert.Empty(result.Error);
        foreach (var stage in new[] { "Labels", "Records", "Train", "Evaluate", "Export", "SmokePredict" })
        {
            Assert.Contains(stage, result.Out);
        }
    }

    [Fact]
    public void Status_reads_the_artifacts_folder_given_with_artifacts_as_run_builds_into()
    {
        var name = TestDatasets.IdxDataset(_dir);
        var artifacts = _dir.Combine("elsewhere");
        DatasetPipeline.Open(_dir.Path, name, _ => { }, artifactsRoot: artifacts).Run("labels", force: false);

        var result = PipelineCommand.Run("status", "--root", _dir.Path, "--dataset", name, "--artifacts", artifacts);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Matches(@"\nLabels +fresh +up to date", result.Out);
        Assert.Matches(@"\nRecords +stale +never built", result.Out);
        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "artifacts")));
    }
}
