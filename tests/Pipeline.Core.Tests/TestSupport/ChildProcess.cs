using System.Diagnostics;

namespace Pipeline.Core.Tests.TestSupport;

/// <summary>A program the tests run as a process of its own: its exit code and output, its whole tree killed when it overruns.</summary>
public static class ChildProcess
{
    /// <param name="environment">Variables added to (or replacing) the test's own.</param>
    /// <exception cref="TimeoutException">It ran past <paramref name="timeout"/>; it and its children were killed.</exception>
    public static async Task<(int ExitCode, string Out, string Error)> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await output, await error);
    }
}
