using System.Threading.Channels;

namespace Pipeline.Training.Input;

/// <summary>A blocking wait on a channel, for the pipeline's producer thread, which reads the shard readers' channels.</summary>
internal static class ChannelBlocking
{
    /// <summary>Waits until an item can be read: false once the channel is completed and empty; rethrows the error it was completed with.</summary>
    public static bool WaitToRead<T>(this ChannelReader<T> reader, CancellationToken cancellation)
    {
        var wait = reader.WaitToReadAsync(cancellation);
        return wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }
}
