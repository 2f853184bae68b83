using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>
/// The server answered that the file is not there for us (404, 410, 403, …): a fact about that URL, not a network
/// fault. Under on_bad_image: skip such an image is left out like a missing local file; a network failure still stops
/// the build, since skipping would silently drop images that exist.
/// </summary>
public sealed class DownloadRefusedException : PipelineException
{
    public DownloadRefusedException(string message, string location)
        : base(message, location)
    {
    }
}
