using System.Text.RegularExpressions;

namespace Pipeline.Core.Engine;

/// <summary>
/// Recognises a write that failed because its disk is full, wherever it sits among an exception's causes, so the
/// failure is one line a person can act on instead of an unexpected error.
/// </summary>
public static partial class DiskFull
{
    // On Unix .NET gives the IOException the errno as its HResult: ENOSPC is 28 on Linux and macOS.
    private const int Enospc = 28;
    private const int ErrorHandleDiskFull = unchecked((int)0x80070027);
    private const int ErrorDiskFull = unchecked((int)0x80070070);

    /// <summary>The disk-full IOException among <paramref name="error"/> and its causes, or null.</summary>
    public static IOException? Find(Exception? error) => error switch
    {
        null => null,
        IOException io when io.HResult is Enospc or ErrorHandleDiskFull or ErrorDiskFull => io,
        AggregateException aggregate => aggregate.InnerExceptions.Select(Find).FirstOrDefault(found => found is not null),
        _ => Find(error.InnerException),
    };

    /// <summary>
    /// "PATH: the disk is full (No space left on device) while DOING; free some space on that disk and run again",
    /// naming the file being written as .NET reports it, else <paramref name="fallbackLocation"/>.
    /// </summary>
    /// <param name="display">Turns a full path into the one shown.</param>
    public static PipelineException Error(IOException full, string fallbackLocation, Func<string, string> display, string? doing = null)
    {
        ArgumentNullException.ThrowIfNull(full);
        ArgumentNullException.ThrowIfNull(display);
        var quoted = QuotedPath().Match(full.Message);
        var reason = quoted.Success ? full.Message[..quoted.Index] : full.Message;
        var location = quoted.Success ? quoted.Groups[1].Value : fallbackLocation;
        return new PipelineException(
            $"the disk is full ({reason.Trim().TrimEnd('.')}){(doing is null ? "" : $" while {doing}")}; free some space on that disk and run again",
            display(location), full);
    }

    // .NET's message for a failed write: "No space left on device : '/full/path'".
    [GeneratedRegex(@" : '(.+)'$")]
    private static partial Regex QuotedPath();
}
