namespace Pipeline.Cli.Tests.TestSupport;

/// <summary>What one in-process run of the pipeline command printed, and its exit code.</summary>
internal sealed record PipelineCommand(int ExitCode, string Out, string Error)
{
    /// <summary>The non-empty lines of standard error.</summary>
    public IReadOnlyList<string> ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The non-empty lines of standard output, trimmed.</summary>
    public IReadOnlyList<string> OutputLines => Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// Runs <see cref="Program.Main"/> with the console captured. The console is the process's, so the tests in this
    /// assembly run one at a time (see AssemblyInfo.cs).
    /// </summary>
    public static PipelineCommand Run(params string[] args)
    {
        using var console = new ConsoleCapture();
        var exitCode = Program.Main(args);
        return new PipelineCommand(exitCode, console.Out, console.Error);
    }
}
