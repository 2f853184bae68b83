using Pipeline.Cli.Commands;
using Pipeline.Core.Build;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

public sealed class StatusCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Status_reads_the_artifacts_folder_given_with_artifacts_as_run_builds_into()
    {
        var name = TestDatasets.IdxDataset(_dir);
        var artifacts = _dir.Combine("elsewhere");
        DatasetPipeline.Open(_dir.Path, name, _ => { }, artifactsRoot: artifacts).Run("labels", force: false);
        using var console = new ConsoleCapture();

        var exit = StatusCommand.Create().Parse(["--root", _dir.Path, "--dataset", name, "--artifacts", artifacts]).Invoke();

        Assert.True(exit == 0, console.Error);
        Assert.Matches(@"\nLabels +fresh +up to date", console.Out);
        Assert.Matches(@"\nRecords +stale +never built", console.Out);
        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "artifacts")));
    }
}
