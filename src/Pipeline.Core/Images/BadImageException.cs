using Pipeline.Core.Engine;

namespace Pipeline.Core.Images;

/// <summary>An image that cannot go into a record: corrupt, truncated, too large or not an image.</summary>
public sealed class BadImageException : PipelineException
{
    public BadImageException(string message, string location, Exception? inner = null)
        : base(message, location, inner)
    {
    }
}
