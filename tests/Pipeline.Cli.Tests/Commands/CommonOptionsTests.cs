using Pipeline.Cli.Commands;
using Pipeline.Cli.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

public sealed class CommonOptionsTests
{
    [Fact]
    public void Full_disk_outside_any_stage_is_one_error_line_naming_the_file_with_exit_code_1()
    {
        using var console = new ConsoleCapture();

        var exit = CommonOptions.Guard(() => throw new IOException("No space left on device : '/data/artifacts/tiny/.lock.owner'", 28));

        Assert.Equal(1, exit);
        Assert.Equal("error: /data/artifacts/tiny/.lock.owner: the disk is full (No space left on device); free some space on that disk and run again\n",
            console.Error.ReplaceLineEndings("\n"));
    }
}
