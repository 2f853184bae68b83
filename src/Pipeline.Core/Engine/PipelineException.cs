namespace Pipeline.Core.Engine;

/// <summary>A failure a person can act on: the message says what is wrong, where, and what to do.</summary>
public class PipelineException : Exception
{
    public PipelineException(string message, string? location = null, Exception? inner = null)
        : base(location is null ? message : $"{location}: {message}", inner)
    {
        Location = location;
        Problem = message;
    }

    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; }

    /// <summary>Where the problem is: "file", "file:line" or "file: field", when known.</summary>
    public string? Location { get; }
}
