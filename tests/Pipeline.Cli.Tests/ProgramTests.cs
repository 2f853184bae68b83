using Pipeline.Cli.Tests.TestSupport;

namespace Pipeline.Cli.Tests;

/// <summary>The root command: help, and what it does with words it does not know.</summary>
public sealed class ProgramTests
{
    [Fact]
    public void Help_lists_every_command_and_exits_0()
    {
        var result = PipelineCommand.Run("--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Usage:", result.Out);
        foreach (var command in new[] { "run <stage>", "status", "inspect <file>", "predict <images>", "request <images>", "serve", "release", "cache", "benchmark" })
        {
            Assert.Contains($"  {command} ", result.Out);
        }
        Assert.Empty(result.Error);
    }

    [Fact]
    public void Help_of_run_lists_its_options_and_exits_0()
    {
        var result = PipelineCommand.Run("run", "--help");

        Assert.Equal(0, result.ExitCode);
        foreach (var option in new[] { "<stage>", "--dataset", "--root", "--force", "--only", "--cache", "--artifacts", "--shard-index", "--shard-count" })
        {
            Assert.Contains(option, result.Out);
        }
        Assert.Empty(result.Error);
    }

    [Fact]
    public void Unknown_option_of_a_command_exits_nonzero_with_one_line_naming_it()
    {
        var result = PipelineCommand.Run("status", "--bogus");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal(["Unrecognized command or argument '--bogus'."], result.ErrorLines);
    }

    /// <remarks>
    /// Two lines, not one: System.CommandLine also reports that no command was given. The help that follows goes to
    /// standard output.
    /// </remarks>
    [Fact]
    public void Unknown_command_exits_nonzero_naming_it()
    {
        var result = PipelineCommand.Run("frobnicate");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Unrecognized command or argument 'frobnicate'.", result.ErrorLines);
        Assert.Contains("Usage:", result.Out);
    }
}
