namespace Pipeline.Serving.Http;

/// <summary>A client's request is wrong in a way the message explains: answered with 400 (or the given status) and {"error": message}.</summary>
public sealed class BadRequestException : Exception
{
    public BadRequestException(string message, int status = 400)
        : base(message) => Status = status;

    public int Status { get; }
}
