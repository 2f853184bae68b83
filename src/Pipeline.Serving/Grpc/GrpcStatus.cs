using Grpc.Core;
using Pipeline.Core.Images;
using Pipeline.Serving.Http;

namespace Pipeline.Serving.Grpc;

/// <summary>The REST server's answers to client mistakes, as gRPC status codes with the same messages.</summary>
internal static class GrpcStatus
{
    public static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    /// <summary>Runs a call, turning a client's mistake into the status code REST's status maps to, and a fault of ours into INTERNAL.</summary>
    public static async Task<T> Answer<T>(Func<Task<T>> call, Action<string> log)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (BadRequestException e)
        {
            throw new RpcException(new Status(e.Status switch
            {
                404 => StatusCode.NotFound,
                413 => StatusCode.ResourceExhausted,
                503 => StatusCode.Unavailable,
                _ => StatusCode.InvalidArgument,
            }, e.Message));
        }
        catch (BadImageException e)
        {
            throw Invalid(e.Message);
        }
        catch (Exception e) when (e is not RpcException and not OperationCanceledException)
        {
            log($"error: {e}");
            throw new RpcException(new Status(StatusCode.Internal, $"internal error: {e.Message}"));
        }
    }
}
