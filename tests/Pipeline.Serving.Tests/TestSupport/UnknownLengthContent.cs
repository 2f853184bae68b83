using System.Net;

namespace Pipeline.Serving.Tests.TestSupport;

/// <summary>A request body whose length is not known in advance, so HttpClient sends it chunked, without Content-Length.</summary>
internal sealed class UnknownLengthContent(byte[] bytes) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(bytes).AsTask();

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
