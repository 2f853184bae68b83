using Pipeline.Cli.Commands;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

public sealed class RunCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [SmallDiskFact]
    public void Records_on_a_full_disk_exit_with_code_1_and_one_line_saying_the_disk_is_full()
    {
        var name = TestDatasets.IdxDataset(_dir);
        using var disk = new SmallDisk(kilobytes: 256);
        string[] Run(string stage) => ["run", stage, "--only", "--root", _dir.Path, "--dataset", name, "--artifacts", disk.Path, "--cache", "off"];
        using (var labels = new ConsoleCapture())
        {
            Assert.True(Invoke(Run("labels")) == 0, labels.Error);
        }
        disk.Fill();
        using var console = new ConsoleCapture();

        var exit = Invoke(Run("records"));

        Assert.Equal(1, exit);
        var lines = console.Error.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Single(lines);
        Assert.Matches(@"^error: .+: the disk is full \(No space left on device\).*; free some space on that disk and run again$", lines[0]);
    }

    private static int Invoke(string[] arguments)
    {
        var root = new System.CommandLine.RootCommand { RunCommand.Create() };
        return root.Parse(arguments).Invoke();
    }
}
